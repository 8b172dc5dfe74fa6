#include "broker/leaf/leaf_nodes.hpp"

#include <random>
#include <stdexcept>

#include "broker/connection.hpp"
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
  for (const account* bound : server_.accounts()) {
    auto& router = const_cast<account*>(bound)->router;
    interest_.emplace(bound, std::make_unique<leaf_interest>(router, make_loop_subject()));
  }
}

leaf_nodes::~leaf_nodes() = default;

leaf_interest& leaf_nodes::interest(const account& bound) { return *interest_.at(&bound); }

void leaf_nodes::start() {
  for (const auto& config : settings_.remotes) {
    const std::string name = config.account.empty() ? std::string(auth::global_account) : config.account;
    account& bound = server_.find_account(name);
    if (bound.name != name) throw std::runtime_error("leafnodes: remote account \"" + name + "\" is not defined");
    auto remote = std::make_shared<leaf_remote>(server_, server_.loop_for_new_connection(), config, settings_.reconnect,
                                                bound, interest(bound));
    remotes_.push_back(remote);
    remote->start();
  }
}

void leaf_nodes::stop() {
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

void leaf_nodes::remove(const connection& link) {
  std::shared_ptr<connection> last;  // released outside the lock
  std::lock_guard lock(mutex_);
  if (auto it = live_.find(link.id()); it != live_.end()) {
    last = std::move(it->second.link);
    live_.erase(it);
  }
}

std::vector<leaf_snapshot> leaf_nodes::snapshot() const {
  std::vector<live_leaf> copy;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, leaf] : live_) copy.push_back(leaf);
  }
  std::vector<leaf_snapshot> out;
  out.reserve(copy.size());
  for (const auto& leaf : copy) out.push_back(leaf.role->snapshot());
  return out;
}

std::size_t leaf_nodes::count() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

}  // namespace courier::broker
