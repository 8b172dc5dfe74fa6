#include "broker/connection_registry.hpp"

#include <algorithm>
#include <cassert>

#include "broker/connection.hpp"
#include "broker/in_process.hpp"

namespace courier::broker {

bool connection_registry::add(std::shared_ptr<connection> client, std::int64_t limit) {
  std::lock_guard lock(mutex_);
  if (limit > 0 && live_.size() >= static_cast<std::size_t>(limit)) return false;
  const auto id = client->id();
  const bool inserted = live_.emplace(id, std::move(client)).second;
  assert(inserted && "connection ids are never reused");
  (void)inserted;
  return true;
}

std::optional<connection_info> connection_registry::on_closed(connection& client, close_reason reason) {
  // The snapshot reads the connection's own locks: taken before ours.
  connection_info info = client.info();
  info.reason = reason;
  info.stop = std::chrono::system_clock::now();
  std::shared_ptr<connection> last;  // released outside the lock
  std::lock_guard lock(mutex_);
  auto it = live_.find(client.id());
  if (it == live_.end()) return std::nullopt;
  last = std::move(it->second);
  live_.erase(it);
  remember_closed(info);
  return info;
}

void connection_registry::remember_closed(connection_info info) {
  for (traffic_totals* sums : {&closed_totals_, &account_totals_[info.identity.account]}) {
    ++sums->closed_connections;
    sums->msgs_in += info.msgs_in;
    sums->bytes_in += info.bytes_in;
    sums->msgs_out += info.msgs_out;
    sums->bytes_out += info.bytes_out;
  }
  if (info.reason) ++closed_reasons_[*info.reason];
  closed_.push_back(std::move(info));
  if (closed_.size() > max_closed) closed_.pop_front();
}

traffic_totals connection_registry::all_traffic() const {
  std::vector<std::shared_ptr<local_client>> locals;
  traffic_totals sum;
  {
    std::lock_guard lock(mutex_);
    sum = closed_totals_;
    sum.live_connections = live_.size();
    for (const auto& [id, client] : live_) {
      auto& counters = client->counters();
      sum.msgs_in += counters.msgs_in.load(std::memory_order_relaxed);
      sum.bytes_in += counters.bytes_in.load(std::memory_order_relaxed);
      sum.msgs_out += counters.msgs_out.load(std::memory_order_relaxed);
      sum.bytes_out += counters.bytes_out.load(std::memory_order_relaxed);
    }
    for (const auto& [id, weak] : local_) {
      if (auto client = weak.lock()) locals.push_back(std::move(client));
    }
  }
  // In-process clients snapshot under their own locks: outside ours.
  sum.live_connections += locals.size();
  for (const auto& client : locals) {
    const auto info = client->info();
    sum.msgs_in += info.msgs_in;
    sum.bytes_in += info.bytes_in;
    sum.msgs_out += info.msgs_out;
    sum.bytes_out += info.bytes_out;
  }
  return sum;
}

void connection_registry::add_local(const std::shared_ptr<local_client>& client) {
  std::lock_guard lock(mutex_);
  local_.emplace(client->id(), client);
}

void connection_registry::on_local_closed(const local_client& client, close_reason reason) {
  connection_info info = client.info();  // its own locks, before ours
  info.reason = reason;
  info.stop = std::chrono::system_clock::now();
  std::lock_guard lock(mutex_);
  if (local_.erase(client.id()) == 0) return;
  remember_closed(std::move(info));
}

std::vector<std::shared_ptr<local_client>> connection_registry::live_local() {
  std::vector<std::shared_ptr<local_client>> out;
  std::lock_guard lock(mutex_);
  for (auto it = local_.begin(); it != local_.end();) {
    if (auto client = it->second.lock()) {
      out.push_back(std::move(client));
      ++it;
    } else {
      it = local_.erase(it);
    }
  }
  return out;
}

std::vector<std::shared_ptr<connection>> connection_registry::live() const {
  std::vector<std::shared_ptr<connection>> out;
  std::lock_guard lock(mutex_);
  out.reserve(live_.size());
  for (const auto& [id, client] : live_) out.push_back(client);
  return out;
}

std::size_t connection_registry::live_count() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

std::vector<connection_info> connection_registry::open_info() const {
  std::map<std::string, traffic_totals, std::less<>> unused;
  return open_info(unused);
}

std::vector<connection_info> connection_registry::open_info(
    std::map<std::string, traffic_totals, std::less<>>& closed) const {
  // Pointers and totals copied under one lock: a connection closing after
  // this is in the copy (its info read below), one closed before is in the
  // totals. The infos are read outside the lock (they take the
  // connections' own locks, which come before ours).
  std::vector<std::shared_ptr<connection>> clients;
  std::vector<std::shared_ptr<local_client>> locals;
  {
    std::lock_guard lock(mutex_);
    clients.reserve(live_.size());
    for (const auto& [id, client] : live_) clients.push_back(client);
    for (const auto& [id, weak] : local_) {
      if (auto client = weak.lock()) locals.push_back(std::move(client));
    }
    closed = account_totals_;
  }
  std::vector<connection_info> out;
  out.reserve(clients.size() + locals.size());
  for (const auto& client : clients) out.push_back(client->info());
  for (const auto& client : locals) out.push_back(client->info());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.cid < b.cid; });
  return out;
}

std::vector<connection_info> connection_registry::closed_info() const {
  std::lock_guard lock(mutex_);
  return {closed_.begin(), closed_.end()};
}

std::map<std::string, traffic_totals, std::less<>> connection_registry::closed_by_account() const {
  std::lock_guard lock(mutex_);
  return account_totals_;
}

std::map<close_reason, std::uint64_t> connection_registry::closed_by_reason() const {
  std::lock_guard lock(mutex_);
  return closed_reasons_;
}

void connection_registry::clear_live() {
  std::unordered_map<std::uint64_t, std::shared_ptr<connection>> gone;  // released outside the lock
  std::lock_guard lock(mutex_);
  gone.swap(live_);
}

}  // namespace courier::broker
