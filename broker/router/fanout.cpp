#include "broker/router/fanout.hpp"

#include <cstdint>
#include <memory>
#include <random>

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

bool publish(sublist& router, const subscriber* from, const message_view& message, flush_batch& batch) {
  // Subjects with an empty token ("a..b") match nothing in the router itself,
  // as in nats-server (tested in tests/router), so no separate scan here.
  route_cache_lease lease;
  std::shared_ptr<const match_result> owned;
  const match_result& result = route(router, message.subject, lease, owned);
  if (result.plain.empty() && result.queues.empty()) return false;
  const bool skip_own = from != nullptr && !from->echo();
  for (const auto& sub : result.plain) {
    if (skip_own && sub->owner.get() == from) continue;
    deliver_one(router, sub, message, batch);
  }
  for (const auto& group : result.queues) {
    // One member at random; if it is gone (or is the publisher without
    // echo), try the next ones.
    const std::size_t size = group.size();
    const std::size_t start = static_cast<std::size_t>(next_random() % size);
    for (std::size_t i = 0; i < size; ++i) {
      const auto& sub = group[(start + i) % size];
      if (skip_own && sub->owner.get() == from) continue;
      if (deliver_one(router, sub, message, batch)) break;
    }
  }
  return true;
}

void send_no_responders(sublist& router, subscriber& publisher, std::string_view reply,
                                flush_batch& batch) {
  // nats-server answers on the requester's own subscription for the reply
  // subject: HMSG <reply> <sid> 16 16 with a 503 status and no payload.
  static constexpr std::string_view status = "NATS/1.0 503\r\n\r\n";
  route_cache_lease lease;
  std::shared_ptr<const match_result> owned;
  const match_result& result = route(router, reply, lease, owned);
  message_view message{reply, {}, status, {}, {}, {}};
  for (const auto& sub : result.plain) {
    if (sub->owner.get() == &publisher) deliver_one(router, sub, message, batch);
  }
  for (const auto& group : result.queues) {
    for (const auto& sub : group) {
      if (sub->owner.get() == &publisher && deliver_one(router, sub, message, batch)) break;
    }
  }
}

}  // namespace courier::broker::fanout
