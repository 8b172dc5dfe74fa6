// The Prometheus /metrics document (text exposition format 0.0.4) of a
// running server: what nats-server's /varz, /connz and /subsz report,
// as metric families named courier_*, followed by every metrics source
// registered with the server (server::metrics_sources(): the message
// services add theirs there). A pure function of the server's state: the
// HTTP server routes GET /metrics to it.
//
// It reads only what the broker keeps anyway (server::stats(), the
// connection registry's snapshots and closed totals, the accounts'
// routers, the options) and adds nothing to the per-message path. Server
// totals (messages and bytes in and out) are the live connections'
// counters plus the sums the registry adds up when a connection closes,
// taken together so that a connection closing meanwhile is counted once.
#pragma once

#include <string>

namespace courier::broker {
class server;
}

namespace courier::monitor {

/// The Content-Type of render_metrics' document.
inline constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// The /metrics document for `server` (thread-safe; any thread).
std::string render_metrics(broker::server& server);

}  // namespace courier::monitor
