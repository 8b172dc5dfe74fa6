#include "broker/leaf/leaf_remote.hpp"

#include <future>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include "broker/connection.hpp"
#include "broker/event_loop.hpp"
#include "broker/leaf/leaf_protocol.hpp"
#include "broker/logger.hpp"
#include "broker/server.hpp"
#include "auth/tls_config.hpp"
#include "broker/transport/tcp_transport.hpp"

namespace courier::broker {

namespace asio = boost::asio;
using boost::system::error_code;

leaf_remote::leaf_remote(server& broker, event_loop& loop, conf::leafnode_remote config,
                         std::chrono::milliseconds reconnect, account& bound, leaf_interest& interest)
    : server_(broker),
      loop_(loop),
      config_(std::move(config)),
      reconnect_(reconnect),
      bound_(bound),
      interest_(interest),
      urls_(config_.urls),
      timer_(loop.context()),
      resolver_(loop.context()) {
  bool tls = config_.tls;
  for (const auto& url : urls_) tls = tls || url.tls;
  if (tls) {
    const auth::tls_settings settings =
        config_.tls_block.is<picojson::null>() ? auth::tls_settings{} : auth::parse_tls(config_.tls_block);
    tls_context_ = auth::make_client_context(settings);
    tls_settings_.context = tls_context_->native_handle();
    tls_settings_.timeout = settings.timeout;
    tls_verify_ = !settings.insecure;
  }
}

void leaf_remote::start() {
  asio::post(loop_.context(), [self = shared_from_this()] { self->attempt(); });
}

void leaf_remote::stop() {
  std::promise<void> done;
  asio::post(loop_.context(), [this, &done] {
    stopped_ = true;
    timer_.cancel();
    resolver_.cancel();
    if (socket_) {
      error_code ignored;
      socket_->close(ignored);
    }
    if (auto current = current_.lock()) current->close_now(close_reason::server_shutdown);
    done.set_value();
  });
  done.get_future().wait();
}

void leaf_remote::schedule(std::chrono::milliseconds delay) {
  if (stopped_) return;
  timer_.expires_after(delay);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec) return;
    self->attempt();
  });
}

void leaf_remote::attempt() {
  if (stopped_ || urls_.empty()) return;
  const std::size_t index = next_url_ % urls_.size();
  next_url_ = index + 1;
  const auto& url = urls_[index];
  log().debug("Trying to connect as leafnode to remote server on \"", url.address(), "\"");
  resolver_.async_resolve(url.host, std::to_string(url.port),
                          [self = shared_from_this(), index](const error_code& ec, asio::ip::tcp::resolver::results_type results) {
                            self->on_resolved(ec, std::move(results), index);
                          });
}

void leaf_remote::on_resolved(const error_code& ec, asio::ip::tcp::resolver::results_type results,
                              std::size_t url_index) {
  if (stopped_) return;
  if (ec) {
    log().error("Error trying to connect as leafnode to remote server \"", urls_[url_index].address(),
                "\" (attempt): ", ec.message());
    schedule(reconnect_);
    return;
  }
  socket_ = std::make_unique<asio::ip::tcp::socket>(loop_.context());
  asio::async_connect(*socket_, results,
                      [self = shared_from_this(), url_index](const error_code& connect_error, const asio::ip::tcp::endpoint&) {
                        self->on_connect(connect_error, url_index);
                      });
}

void leaf_remote::on_connect(const error_code& ec, std::size_t url_index) {
  if (stopped_) {
    socket_.reset();
    return;
  }
  const auto& url = urls_[url_index];
  if (ec) {
    socket_.reset();
    log().debug("Error trying to connect as leafnode to remote server \"", url.address(), "\": ", ec.message());
    schedule(reconnect_);
    return;
  }
  // As nats-server 2.9: the hub's INFO comes in clear, then the handshake;
  // a remote with a tls block or one tls:// URL uses TLS on every URL,
  // discovered ones included.
  const bool tls = tls_context_ != nullptr;
  std::unique_ptr<transport> link;
  if (tls) {
    link = std::make_unique<tls_transport>(std::move(*socket_), tls_settings_, tls_client_side{url.host, tls_verify_});
  } else {
    link = std::make_unique<tcp_transport>(std::move(*socket_));
  }
  socket_.reset();
  auto client = std::make_shared<connection>(server_, loop_, std::move(link), server_.allocate_connection_id());
  auto role = std::make_unique<leaf_protocol>(*client, server_, bound_, interest_, shared_from_this(), url.user,
                                              url.password);
  role->set_tls(tls);
  client->set_role(std::move(role));
  current_ = client;
  server_.track_connection(client);
  client->start();
}

void leaf_remote::on_connected() {
  // The next attempt, after this connection ends, starts from the next URL.
}

void leaf_remote::on_disconnected(std::chrono::milliseconds delay) {
  current_.reset();
  schedule(std::max(reconnect_, delay));
}

void leaf_remote::add_discovered(const std::vector<std::string>& addresses) {
  for (const auto& address : addresses) {
    conf::leafnode_url url;
    try {
      url = conf::parse_leafnode_url("nats-leaf://" + address);
    } catch (const std::exception&) {
      continue;
    }
    bool known = false;
    for (const auto& existing : urls_) known = known || (existing.host == url.host && existing.port == url.port);
    if (known) continue;
    // Credentials of the configured URLs carry over to the cluster's other members.
    if (!config_.urls.empty()) {
      url.user = config_.urls.front().user;
      url.password = config_.urls.front().password;
    }
    urls_.push_back(std::move(url));
  }
}

}  // namespace courier::broker
