#include "broker/leaf/leaf_interest.hpp"

#include <algorithm>

#include "broker/leaf/leaf_protocol.hpp"
#include "broker/router/sublist.hpp"

namespace courier::broker {

namespace {
constexpr std::string_view loop_prefix = "$LDS.";

/// "LS+ subject[ queue weight]\r\n" or "LS- subject[ queue]\r\n".
void append_interest(std::string& out, bool add, std::string_view subject, std::string_view queue, std::int64_t weight) {
  out += add ? "LS+ " : "LS- ";
  out += subject;
  if (!queue.empty()) {
    out += ' ';
    out += queue;
    if (add) {
      out += ' ';
      out += std::to_string(weight);
    }
  }
  out += "\r\n";
}
}  // namespace

leaf_interest::leaf_interest(sublist& router, std::string loop_subject)
    : router_(router), loop_subject_(std::move(loop_subject)) {
  router_.set_interest_hook([this](const interest_change& change) { on_change(change); });
}

leaf_interest::~leaf_interest() { router_.set_interest_hook({}); }

std::string leaf_interest::key_of(std::string_view subject, std::string_view queue) {
  std::string key(subject);
  if (!queue.empty()) {
    key += ' ';
    key += queue;
  }
  return key;
}

bool leaf_interest::passes(const leaf_protocol& to, const leaf_protocol& from, std::string_view subject) {
  if (subject.starts_with(loop_prefix)) return true;
  // On a connection to our hub, only the leaves we are the hub of count.
  return !to.we_are_spoke() || !from.we_are_spoke();
}

std::int64_t leaf_interest::count_for(const key_state& state, const leaf_protocol& leaf) const {
  std::int64_t count = state.local;
  for (const auto& [from, weight] : state.remote) {
    if (from != &leaf && passes(leaf, *from, state.subject)) count += weight;
  }
  return count;
}

template <class Modify>
void leaf_interest::update(const std::string& key, std::string_view subject, std::string_view queue,
                           const leaf_protocol* source, Modify&& modify) {
  auto [it, inserted] = keys_.try_emplace(key);
  auto& state = it->second;
  if (inserted) {
    state.subject = subject;
    state.queue = queue;
  }
  // Small vectors: leaves are few. Counts before, the change, counts after.
  std::vector<std::int64_t> before;
  before.reserve(leaves_.size());
  for (auto* leaf : leaves_) before.push_back(count_for(state, *leaf));
  modify(state);
  std::string line;
  for (std::size_t i = 0; i < leaves_.size(); ++i) {
    leaf_protocol* leaf = leaves_[i];
    if (leaf == source) continue;
    const std::int64_t was = before[i];
    const std::int64_t now = count_for(state, *leaf);
    if (was == now) continue;
    line.clear();
    if (now > 0) {
      // Plain interest: only the first subscriber counts. A queue group's
      // weight is re-sent on every change.
      if (!state.queue.empty() || was <= 0) append_interest(line, true, state.subject, state.queue, now);
    } else if (was > 0) {
      append_interest(line, false, state.subject, state.queue, 0);
    }
    if (!line.empty()) leaf->send_interest(line);
  }
  if (state.local <= 0 && state.remote.empty()) keys_.erase(it);
}

void leaf_interest::on_change(const interest_change& change) {
  // A leaf's own subscriptions are reported by the leaf (remote_changed).
  if (change.sub.remote_interest) return;
  const std::int64_t delta = change.what == interest_change::kind::added ? 1 : -1;
  std::lock_guard lock(mutex_);
  update(key_of(change.subject(), change.queue()), change.subject(), change.queue(), nullptr,
         [delta](key_state& state) { state.local += delta; });
}

void leaf_interest::remote_changed(leaf_protocol& from, std::string_view subject, std::string_view queue,
                                   std::int32_t weight) {
  std::lock_guard lock(mutex_);
  update(key_of(subject, queue), subject, queue, &from, [&from, weight](key_state& state) {
    auto it = std::find_if(state.remote.begin(), state.remote.end(), [&from](const auto& entry) { return entry.first == &from; });
    if (weight <= 0) {
      if (it != state.remote.end()) state.remote.erase(it);
    } else if (it != state.remote.end()) {
      it->second = weight;
    } else {
      state.remote.emplace_back(&from, weight);
    }
  });
}

void leaf_interest::attach(leaf_protocol& leaf) {
  std::lock_guard lock(mutex_);
  std::string lines;
  for (const auto& [key, state] : keys_) {
    const std::int64_t count = count_for(state, leaf);
    if (count > 0) append_interest(lines, true, state.subject, state.queue, count);
  }
  append_interest(lines, true, loop_subject_, {}, 1);
  leaf.send_interest(lines);
  leaves_.push_back(&leaf);
}

void leaf_interest::detach(leaf_protocol& leaf) {
  std::lock_guard lock(mutex_);
  leaves_.erase(std::remove(leaves_.begin(), leaves_.end(), &leaf), leaves_.end());
  // Whatever it still declared is withdrawn from the other leaves.
  std::vector<std::string> declared;
  for (const auto& [key, state] : keys_) {
    for (const auto& entry : state.remote) {
      if (entry.first == &leaf) declared.push_back(key);
    }
  }
  for (const auto& key : declared) {
    auto it = keys_.find(key);
    const std::string subject = it->second.subject, queue = it->second.queue;
    update(key, subject, queue, &leaf, [&leaf](key_state& state) {
      std::erase_if(state.remote, [&leaf](const auto& entry) { return entry.first == &leaf; });
    });
  }
}

std::size_t leaf_interest::leaf_count() const {
  std::lock_guard lock(mutex_);
  return leaves_.size();
}

}  // namespace courier::broker
