#include "broker/leaf/leaf_nodes.hpp"

#include <future>
#include <random>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <picojson.h>

#include "broker/connection.hpp"
#include "broker/event_loop.hpp"
#include "broker/transport/tcp_listen.hpp"
#include "auth/nats_credentials.hpp"
#include "auth/tls_config.hpp"
#include "broker/transport/tcp_transport.hpp"
#include "broker/transport/tls_transport.hpp"
#include "broker/leaf/leaf_interest.hpp"
#include "broker/leaf/leaf_remote.hpp"
#include "broker/logger.hpp"
#include "broker/server.hpp"

namespace courier::broker {

namespace {
/// "$LDS." and 22 random alphanumerics, the shape of nats-server's (a nuid).
std::string make_loop_subject() {
  static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device device;
  std::mt19937_64 generator(device());
  std::string subject = "$LDS.";
  for (int i = 0; i < 22; ++i) subject += alphabet[generator() % 62];
  return subject;
}
}  // namespace

leaf_nodes::leaf_nodes(server& broker, conf::leafnode_settings settings)
    : server_(broker), settings_(std::move(settings)) {
  // A bad TLS file, or credentials we cannot use, stop the start.
  if (!settings_.tls_block.is<picojson::null>()) {
    const auth::tls_settings tls = auth::parse_tls(settings_.tls_block);
    if (!tls.enabled()) throw std::runtime_error("leafnodes: tls needs cert_file and key_file");
    tls_context_ = auth::make_server_context(tls);
    tls_settings_.context = tls_context_->native_handle();
    tls_settings_.timeout = tls.timeout;
    tls_verify_ = tls.verify;
  }
  for (const auto& remote : settings_.remotes) {
    // The remote's client context is built again when it starts; built
    // here first so that `courier -t` reports a bad file too.
    bool tls = remote.tls;
    for (const auto& url : remote.urls) tls = tls || url.tls;
    if (tls && !remote.tls_block.is<picojson::null>()) auth::make_client_context(auth::parse_tls(remote.tls_block));
    if (!remote.credentials.empty()) {
      auth::nats_credentials credentials;
      std::string error;
      if (!auth::load_credentials_file(remote.credentials, credentials, error)) {
        throw std::runtime_error("leafnodes: remote credentials " + error);
      }
    }
    const std::string name = remote.account.empty() ? std::string(auth::global_account) : remote.account;
    if (server_.find_account(name).name != name) {
      throw std::runtime_error("leafnodes: remote account \"" + name + "\" is not defined");
    }
  }
  for (const auto& user : settings_.users) {
    if (!user.account.empty() && server_.find_account(user.account).name != user.account) {
      throw std::runtime_error("leafnodes: authorization account \"" + user.account + "\" is not defined");
    }
  }
  for (const account* bound : server_.accounts()) {
    auto& router = const_cast<account*>(bound)->router;
    interest_.emplace(bound, std::make_unique<leaf_interest>(router, make_loop_subject()));
  }
}

leaf_nodes::~leaf_nodes() = default;

leaf_interest& leaf_nodes::interest(const account& bound) { return *interest_.at(&bound); }

namespace asio = boost::asio;

void leaf_nodes::listen() {
  if (settings_.port == 0) return;
  boost::system::error_code ec;
  const std::string host = settings_.host == "localhost" ? "127.0.0.1" : settings_.host;
  auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("Error parsing leafnode listen address " + settings_.host + ": " + ec.message());
  const auto port = static_cast<std::uint16_t>(settings_.port < 0 ? 0 : settings_.port);
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(server_.first_loop().context());
  listen_tcp(*acceptor_, endpoint, ec);
  if (ec) {
    acceptor_.reset();
    throw std::runtime_error("Error listening on leafnode port: " + settings_.host + ":" +
                             std::to_string(settings_.port) + ", \"" + ec.message() + "\"");
  }
  port_ = acceptor_->local_endpoint().port();
}

void leaf_nodes::start() {
  if (acceptor_) {
    log().notice("Listening for leafnode connections on ", settings_.host, ":", port_);
    asio::post(server_.first_loop().context(), [this] { do_accept(); });
  }
  for (const auto& config : settings_.remotes) {
    const std::string name = config.account.empty() ? std::string(auth::global_account) : config.account;
    account& bound = server_.find_account(name);  // checked at construction
    auto remote = std::make_shared<leaf_remote>(server_, server_.loop_for_new_connection(), config, settings_.reconnect,
                                                bound, interest(bound));
    remotes_.push_back(remote);
    remote->start();
  }
}

void leaf_nodes::do_accept() {
  if (!acceptor_ || !acceptor_->is_open()) return;
  event_loop& target = server_.loop_for_new_connection();
  acceptor_->async_accept(target.context(), [this, &target](const boost::system::error_code& ec,
                                                            asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      log().error("Error accepting leafnode connection: ", ec.message());
      do_accept();
      return;
    }
    std::unique_ptr<transport> pipe;
    if (tls_context_) {
      pipe = std::make_unique<tls_transport>(std::move(socket), tls_settings_);  // INFO in clear, then TLS
    } else {
      pipe = std::make_unique<tcp_transport>(std::move(socket));
    }
    auto link = std::make_shared<connection>(server_, target, std::move(pipe), server_.allocate_connection_id());
    auto role = std::make_unique<leaf_protocol>(*link, server_);
    leaf_protocol& accepted = *role;
    link->set_role(std::move(role));
    add(link, accepted);
    asio::post(target.context(), [this, link] {
      server_.track_connection(link);
      link->start();
    });
    do_accept();
  });
}

std::string leaf_nodes::info_line(std::uint64_t client_id, bool connect_info,
                                  std::string_view bound_account) const {
  auto text = [](std::string_view value) { return picojson::value(std::string(value)).serialize(); };
  // Field order as nats-server's Info for a leaf connection.
  std::string out = "INFO {\"server_id\":" + text(server_.id()) + ",\"server_name\":" + text(server_.name()) +
                    ",\"version\":\"" + compatible_nats_version + "\",\"proto\":1,\"courier_version\":\"" +
                    courier_version + "\",\"host\":" + text(settings_.host) + ",\"port\":" + std::to_string(port_) +
                    ",\"headers\":true";
  if (!settings_.users.empty()) out += ",\"auth_required\":true";
  if (tls_context_) out += tls_verify_ ? ",\"tls_required\":true,\"tls_verify\":true" : ",\"tls_required\":true";
  out += ",\"max_payload\":" + std::to_string(server_.options().max_payload);
  out += ",\"client_id\":" + std::to_string(client_id);
  out += ",\"info_on_connect\":true";
  if (connect_info) out += ",\"connect_info\":true";
  std::string advertise = settings_.advertise;
  if (advertise.empty() && settings_.host != "0.0.0.0" && settings_.host != "::") {
    advertise = settings_.host + ":" + std::to_string(port_);
  }
  if (!advertise.empty()) out += ",\"leafnode_urls\":[" + text(advertise) + "]";
  if (connect_info) out += ",\"remote_account\":" + text(bound_account);
  out += "} \r\n";
  return out;
}

void leaf_nodes::stop() {
  if (acceptor_) {
    std::promise<void> closed;
    asio::post(server_.first_loop().context(), [this, &closed] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
      closed.set_value();
    });
    closed.get_future().wait();
  }
  for (auto& remote : remotes_) remote->stop();
  std::vector<std::shared_ptr<connection>> links;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, leaf] : live_) links.push_back(leaf.link);
  }
  for (auto& link : links) link->close(close_reason::server_shutdown);
}

void leaf_nodes::add(const std::shared_ptr<connection>& link, leaf_protocol& role) {
  std::lock_guard lock(mutex_);
  live_[link->id()] = live_leaf{link, &role};
}

void leaf_nodes::remove(const connection& link, close_reason reason) {
  std::shared_ptr<connection> last;  // released outside the lock
  std::lock_guard lock(mutex_);
  ++closed_reasons_[reason];
  if (auto it = live_.find(link.id()); it != live_.end()) {
    last = std::move(it->second.link);
    live_.erase(it);
  }
}

std::map<close_reason, std::uint64_t> leaf_nodes::closed_by_reason() const {
  std::lock_guard lock(mutex_);
  return closed_reasons_;
}

std::vector<leaf_snapshot> leaf_nodes::snapshot() const {
  std::vector<live_leaf> copy;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, leaf] : live_) copy.push_back(leaf);
  }
  std::vector<leaf_snapshot> out;
  out.reserve(copy.size());
  for (const auto& leaf : copy) {
    if (leaf.role->set_up()) out.push_back(leaf.role->snapshot());
  }
  return out;
}

std::size_t leaf_nodes::count() const {
  std::lock_guard lock(mutex_);
  std::size_t set_up = 0;
  for (const auto& [id, leaf] : live_) set_up += leaf.role->set_up() ? 1 : 0;
  return set_up;
}

}  // namespace courier::broker
