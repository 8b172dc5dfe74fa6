#include "broker/router/fanout.hpp"

#include <cstdint>
#include <memory>
#include <random>

#include <boost/container/small_vector.hpp>

#include "broker/router/route_cache.hpp"

namespace courier::broker::fanout {

namespace {
/// A cheap per-thread generator for picking queue members.
std::uint64_t next_random() {
  thread_local std::uint64_t state = [] {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) | device() | 1;
  }();
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

/// Delivers to one subscription, honouring auto-unsubscribe. Returns whether
/// the message went out.
bool deliver_one(sublist& router, const std::shared_ptr<subscription>& sub, const message_view& message,
                 flush_batch& batch) {
  if (sub->closed.load(std::memory_order_relaxed)) return false;
  auto delivered = sub->delivered.fetch_add(1, std::memory_order_relaxed) + 1;
  auto max = sub->max_messages.load(std::memory_order_relaxed);
  if (max != 0 && delivered > max) return false;
  sub->owner->deliver(*sub, message, batch);
  if (max != 0 && delivered == max && !sub->closed.exchange(true)) {
    router.remove(sub);
    sub->owner->subscription_done(sub);
  }
  return true;
}

/// The router's answer for `subject`: from the calling thread's L1 cache when
/// it has one to lend (no lock, no reference count touched), else from the
/// router itself, kept alive in `owned`. Valid while `lease` is held.
const match_result& route(sublist& router, std::string_view subject, const route_cache_lease& lease,
                          std::shared_ptr<const match_result>& owned) {
  if (auto* caches = lease.get()) return *caches->for_router(router).match(router, subject);
  owned = router.match(subject);
  return *owned;
}
}  // namespace

namespace {
/// A receiver of remote interest matched by one message, and the queue
/// groups it was picked for.
struct remote_target {
  subscriber* owner;
  std::shared_ptr<subscription> keep;  // keeps the owner alive until delivered
  std::vector<std::string_view> queues;
};
/// A message matches one or two leaf connections' interest at most, most
/// of the time: kept inline, no allocation per message.
using remote_targets = boost::container::small_vector<remote_target, 2>;

remote_target& target_for(remote_targets& targets, const std::shared_ptr<subscription>& sub) {
  for (auto& target : targets) {
    if (target.owner == sub->owner.get()) return target;
  }
  targets.push_back(remote_target{sub->owner.get(), sub, {}});
  return targets.back();
}

bool queue_allowed(const std::vector<std::string_view>* filter, std::string_view queue) {
  if (filter == nullptr) return true;
  for (const auto& name : *filter) {
    if (name == queue) return true;
  }
  return false;
}
}  // namespace

bool publish(sublist& router, const subscriber* from, const message_view& message, flush_batch& batch,
             const std::vector<std::string_view>* queue_filter, bool* delivered_any) {
  if (delivered_any != nullptr) *delivered_any = false;
  // Subjects with an empty token ("a..b") match nothing in the router itself,
  // as in nats-server (tested in tests/router), so no separate scan here.
  route_cache_lease lease;
  std::shared_ptr<const match_result> owned;
  const match_result& result = route(router, message.subject, lease, owned);
  if (result.plain.empty() && result.queues.empty()) return false;
  const bool skip_own = from != nullptr && !from->echo();
  // Empty unless a remote side's interest matched (leaf connections).
  remote_targets remote;
  for (const auto& sub : result.plain) {
    if (skip_own && sub->owner.get() == from) continue;
    if (sub->remote_interest) [[unlikely]] {
      if (!sub->closed.load(std::memory_order_relaxed)) target_for(remote, sub);
      continue;
    }
    if (deliver_one(router, sub, message, batch) && delivered_any != nullptr) *delivered_any = true;
  }
  for (const auto& group : result.queues) {
    if (queue_filter != nullptr && !queue_allowed(queue_filter, group.front()->queue)) [[unlikely]] continue;
    // One member at random; if it is gone (or is the publisher without
    // echo), try the next ones. A member on this server goes before a
    // remote side's (a leaf's): nats-server 2.9.10 sends a queue message
    // across only when no local member is left (seen on the wire).
    const std::size_t size = group.size();
    const std::size_t start = static_cast<std::size_t>(next_random() % size);
    const std::shared_ptr<subscription>* fallback = nullptr;
    bool delivered = false;
    for (std::size_t i = 0; i < size; ++i) {
      const auto& sub = group[(start + i) % size];
      if (skip_own && sub->owner.get() == from) continue;
      if (sub->remote_interest) [[unlikely]] {
        if (fallback == nullptr && !sub->closed.load(std::memory_order_relaxed)) fallback = &sub;
        continue;
      }
      if (deliver_one(router, sub, message, batch)) {
        delivered = true;
        break;
      }
    }
    if (delivered && delivered_any != nullptr) *delivered_any = true;
    if (!delivered && fallback != nullptr) [[unlikely]] target_for(remote, *fallback).queues.push_back((*fallback)->queue);
  }
  for (auto& target : remote) target.owner->deliver_remote(message, target.queues, batch);
  if (!remote.empty() && delivered_any != nullptr) *delivered_any = true;
  return true;
}

namespace {
/// Where a subscription subject comes in nats-server's sublist match order
/// (sublist.go matchLevel): at each level the `>` node first, then the `*`
/// branch, then the literal one; at the last level the literal node comes
/// before `*`. Smaller sorts first.
std::vector<int> match_rank(std::string_view subject) {
  std::vector<int> rank;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = subject.find('.', start);
    const bool last = dot == std::string_view::npos;
    const std::string_view token = subject.substr(start, last ? std::string_view::npos : dot - start);
    if (token == ">") {
      rank.push_back(0);
      break;
    }
    if (token == "*") {
      rank.push_back(last ? 2 : 1);
    } else {
      rank.push_back(last ? 1 : 2);
    }
    if (last) break;
    start = dot + 1;
  }
  return rank;
}
}  // namespace

void send_no_responders(sublist& router, subscriber& publisher, std::string_view reply,
                                flush_batch& batch) {
  // nats-server (client.go, subForReply) answers on the requester's first
  // plain subscription matching the reply subject, HMSG <reply> <sid> 16 16
  // with a 503 status and no payload, queued straight to the connection: not
  // through its delivery path, so no UNSUB max counts it, and queue
  // subscriptions are not looked at.
  static constexpr std::string_view status = "NATS/1.0 503\r\n\r\n";
  route_cache_lease lease;
  std::shared_ptr<const match_result> owned;
  const match_result& result = route(router, reply, lease, owned);
  message_view message{reply, {}, status, {}, {}, {}};
  const subscription* best = nullptr;
  std::vector<int> best_rank;
  for (const auto& sub : result.plain) {
    if (sub->owner.get() != &publisher || sub->closed.load(std::memory_order_relaxed)) continue;
    auto rank = match_rank(sub->subject);
    if (best == nullptr || rank < best_rank) {
      best = sub.get();
      best_rank = std::move(rank);
    }
  }
  if (best != nullptr) publisher.deliver(*best, message, batch);
}

}  // namespace courier::broker::fanout
