// Fan-out: one published message to every matching subscription, one
// member per queue group. Sits between the router (sublist) and the
// receivers (subscriber::deliver); used by every publisher, socket or
// in-process.
//
// Thread rules: any thread. A publish borrows the calling thread's router
// L1 caches (route_cache_lease) for its duration; deliveries run on the
// calling thread and register receivers in `batch`, which the caller flushes.
#pragma once

#include <string_view>
#include <vector>

#include "broker/router/sublist.hpp"
#include "broker/subscriber.hpp"

namespace courier::broker::fanout {

/// Routes one message to every matching subscription (one member per
/// queue group, chosen at random). `from` is the publisher, for echo.
/// Subscriptions for a remote side's interest (subscription::remote_interest)
/// get the message once per owner, with the queue groups it was picked for
/// (subscriber::deliver_remote). With `queue_filter` (a message that came
/// from a leaf connection), only the queue groups it names get the message;
/// an empty filter means plain subscriptions only, as nats-server does for
/// messages from routes and leaves. Returns whether any subscription matched;
/// `delivered`, when given, is set to whether the message went anywhere
/// (nats-server's didDeliver: false when every match was the publisher's own
/// without echo, or was over its UNSUB max).
bool publish(sublist& router, const subscriber* from, const message_view& message, flush_batch& batch,
             const std::vector<std::string_view>* queue_filter = nullptr, bool* delivered = nullptr);

/// Delivers nats-server's no-responders status (NATS/1.0 503) to one of the
/// publisher's own plain subscriptions matching `reply`: the first in
/// nats-server's sublist match order. Queue subscriptions never get it, and
/// it does not count towards an UNSUB max (nats-server writes it straight to
/// the connection).
void send_no_responders(sublist& router, subscriber& publisher, std::string_view reply, flush_batch& batch);

}  // namespace courier::broker::fanout
