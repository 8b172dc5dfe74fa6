// nats-server 2.9.10's monitoring endpoints over Courier's broker, as pure
// functions: a request in, a document out. Each reads what the broker keeps
// anyway (the connection registry, the routers, the server's counters); none
// touches a connection's loop or the per-message path. The HTTP server
// (monitor/http_server) and the system account's request subjects
// (monitor/system_service) both serve them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "broker/connection_info.hpp"
#include "broker/router/sublist.hpp"
#include "monitor/http_reply.hpp"
#include "monitor/json_writer.hpp"

namespace courier::broker {
class server;
}

namespace courier::monitor {

/// How the monitoring listener was set up, for /varz.
struct listener_facts {
  std::string http_host;
  std::int64_t http_port = 0;
  std::int64_t https_port = 0;
  std::string base_path;
};

/// Requests per endpoint path (/varz "http_req_stats"). Thread-safe.
class request_counts {
 public:
  void count(const std::string& path);
  std::map<std::string, std::uint64_t> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> counts_;  // lock: mutex_
};

/// What every endpoint is computed from.
struct endpoint_context {
  broker::server& server;
  const listener_facts& listener;
  const request_counts& requests;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  /// JSON laid out compact (system account replies) instead of indented (HTTP).
  json_writer::layout layout = json_writer::layout::indented;
};

http_reply varz(const endpoint_context& context, const query_params& query);
http_reply connz(const endpoint_context& context, const query_params& query);
http_reply subsz(const endpoint_context& context, const query_params& query);
http_reply accountz(const endpoint_context& context, const query_params& query);
http_reply accstatz(const endpoint_context& context, const query_params& query);
/// /routez, /gatewayz and /jsz: Courier has no routes, gateways or
/// JetStream, so these answer as a nats-server without them.
http_reply routez(const endpoint_context& context, const query_params& query);
http_reply gatewayz(const endpoint_context& context, const query_params& query);
/// /leafz: the leaf connections set up, both sides (`subs`, `acc`).
http_reply leafz(const endpoint_context& context, const query_params& query);
http_reply jsz(const endpoint_context& context, const query_params& query);
http_reply healthz(const endpoint_context& context, const query_params& query);
/// The index page at `/`: links to every endpoint.
http_reply index_page(const endpoint_context& context, const query_params& query);
/// The live page at `/dashboard` (monitor/dashboard.html), which reads the
/// endpoints above from the browser every second.
http_reply dashboard(const endpoint_context& context, const query_params& query);

/// nats-server's query decoders: nothing when absent, an error text when malformed.
struct decoded_bool {
  bool value = false;
  std::string error;
};
decoded_bool decode_bool(const query_params& query, std::string_view name);
/// An int option (Go's strconv.Atoi): `out` unchanged when absent; the
/// 400 text when malformed.
std::optional<std::string> decode_int(const query_params& query, std::string_view name, std::int64_t& out);

/// A router's statistics as nats-server's SublistStats (/subsz, /accountz).
void write_sublist_stats(json_writer& out, const broker::sublist::statistics& stats);
/// One subscription as nats-server's SubDetail (/subsz list, /connz
/// subs=detail); `account` is left out when empty.
void write_subscription_detail(json_writer& out, std::string_view account, const broker::subscription_info& sub,
                               std::uint64_t cid);

}  // namespace courier::monitor
