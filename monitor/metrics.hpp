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
//
// Families (counters end in _total):
//   courier_info{version,nats_version,server_id,server_name}   always 1
//   courier_start_time_seconds, courier_uptime_seconds, courier_config_load_time_seconds
//   courier_max_connections, courier_max_payload_bytes,
//   courier_max_pending_bytes, courier_max_subscriptions       configured limits
//   courier_connections{state="open"|"closed"}    open now; closed ones kept (at most 10000)
//   courier_connections_total                     TCP connections accepted
//   courier_connections_closed_total{reason}      closes by reason ("Client Closed", "Slow Consumer
//                                                 (Pending Bytes)", ... as nats-server's /connz)
//   courier_slow_consumers_total
//   courier_pending_bytes                         queued to open connections, not written yet
//   courier_lame_duck                             1 in lame duck mode
//   courier_leafnodes                             open leaf node connections
//   courier_leafnode_connections_closed_total{reason}   leaf closes by reason
//   courier_{in,out}_{msgs,bytes}_total           all connections, open and closed
//   courier_subscriptions                         all accounts
//   courier_account_connections{account}          open, per account
//   courier_account_subscriptions{account}
//   courier_account_{in,out}_{msgs,bytes}_total{account}
// then the sources': courier_mss_* (mss/service/metrics.hpp).
#pragma once

#include <string>

#include "monitor/endpoints.hpp"

namespace courier::broker {
class server;
}

namespace courier::monitor {

/// The Content-Type of render_metrics' document.
inline constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// The /metrics document for `server` (thread-safe; any thread).
std::string render_metrics(broker::server& server);

/// GET /metrics (monitor/monitoring's route table): render_metrics with
/// Prometheus' content type. The query is ignored.
http_reply metrics(const endpoint_context& context, const query_params& query);

}  // namespace courier::monitor
