#include "broker/metrics_sources.hpp"

#include <stdexcept>
#include <utility>

namespace courier::broker {

metrics_sources::handle::handle(handle&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), id_(std::exchange(other.id_, 0)) {}

metrics_sources::handle& metrics_sources::handle::operator=(handle&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

metrics_sources::handle::~handle() { reset(); }

void metrics_sources::handle::reset() {
  if (owner_ == nullptr) return;
  std::exchange(owner_, nullptr)->remove(id_);
  id_ = 0;
}

metrics_sources::handle metrics_sources::add(std::string name, metrics_writer writer) {
  if (!writer) throw std::invalid_argument("metrics source '" + name + "' has no writer");
  std::lock_guard lock(mutex_);
  if (ids_by_name_.count(name) != 0)
    throw std::invalid_argument("metrics source '" + name + "' is registered already");
  const std::uint64_t id = next_id_++;
  ids_by_name_.emplace(name, id);
  sources_.emplace(id, source{std::move(name), std::move(writer)});
  return handle(this, id);
}

void metrics_sources::remove(std::uint64_t id) {
  metrics_writer last;  // destroyed outside the lock: it may own anything
  std::lock_guard lock(mutex_);
  auto it = sources_.find(id);
  if (it == sources_.end()) return;
  ids_by_name_.erase(it->second.name);
  last = std::move(it->second.writer);
  sources_.erase(it);
}

void metrics_sources::write_all(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, id] : ids_by_name_) sources_.at(id).writer(out);
}

std::vector<std::string> metrics_sources::names() const {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, id] : ids_by_name_) out.push_back(name);
  return out;
}

}  // namespace courier::broker
