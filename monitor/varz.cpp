// /varz: the server's settings and totals, in nats-server 2.9.10's order.
#include <thread>

#include "broker/connection_registry.hpp"
#include "broker/leaf/leaf_nodes.hpp"
#include "broker/server.hpp"
#include "monitor/endpoints.hpp"
#include "monitor/go_format.hpp"
#include "monitor/json_writer.hpp"
#include "monitor/process_usage.hpp"

namespace courier::monitor {

namespace {

std::int64_t nanoseconds(std::chrono::milliseconds duration) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
}

double seconds(std::chrono::milliseconds duration) { return static_cast<double>(duration.count()) / 1000.0; }

/// "leaf": nats-server's LeafNodeOptsVarz. The listener's fields appear only
/// with a leafnode port; each remote shows its local account (when given)
/// and its URLs as host:port, credentials left out.
/// The websocket block as nats-server's WebsocketOptsVarz shows it (every
/// field omitted when empty or zero; the port is the one listened on).
void write_websocket_options(json_writer& out, const broker::server& server) {
  const auto& ws = server.options().websocket;
  out.key("websocket").begin_object();
  if (ws.enabled()) {
    out.member("host", ws.host.empty() ? std::string("0.0.0.0") : ws.host);
    out.member("port", static_cast<std::int64_t>(server.websocket_port()));
    if (!ws.advertise.empty()) out.member("advertise", ws.advertise);
    if (!ws.no_auth_user.empty()) out.member("no_auth_user", ws.no_auth_user);
    if (!ws.jwt_cookie.empty()) out.member("jwt_cookie", ws.jwt_cookie);
    if (ws.handshake_timeout.count() > 0) out.member("handshake_timeout", nanoseconds(ws.handshake_timeout));
    if (ws.auth_timeout_seconds > 0) out.member("auth_timeout", ws.auth_timeout_seconds);
    if (ws.no_tls) out.member("no_tls", true);
    if (ws.same_origin) out.member("same_origin", true);
    if (!ws.allowed_origins.empty()) {
      out.key("allowed_origins").begin_array();
      for (const auto& origin : ws.allowed_origins) out.value(origin);
      out.end_array();
    }
    if (ws.compression) out.member("compression", true);
  }
  out.end_object();
}

void write_leaf_options(json_writer& out, const broker::server& server) {
  out.key("leaf").begin_object();
  if (const auto* leafs = server.leafs()) {
    const auto& settings = leafs->settings();
    if (settings.port != 0) {
      out.member("host", settings.host);
      out.member("port", static_cast<std::int64_t>(leafs->port()));
      out.member("auth_timeout", seconds(settings.auth_timeout));
      out.member("tls_timeout", 2.0);  // nats-server's TLS_TIMEOUT default
    }
    if (!settings.remotes.empty()) {
      out.key("remotes").begin_array();
      for (const auto& remote : settings.remotes) {
        out.begin_object();
        if (!remote.account.empty()) out.member("local_account", remote.account);
        out.key("urls").begin_array();
        for (const auto& url : remote.urls) out.value(url.address());
        out.end_array();
        out.end_object();
      }
      out.end_array();
    }
  }
  out.end_object();
}

}  // namespace

http_reply varz(const endpoint_context& context, const query_params&) {
  broker::server& server = context.server;
  const auto& options = server.options();
  const auto auth = server.auth_settings();

  const auto traffic = server.connections().all_traffic();
  std::uint64_t subscriptions = 0;
  for (const auto* account : server.accounts()) subscriptions += account->router.count();

  json_writer out(context.layout);
  out.begin_object();
  out.member("server_id", server.id());
  out.member("server_name", server.name());
  out.member("version", broker::compatible_nats_version);
  out.member("proto", 1);
  out.member("go", "courier " + std::string(broker::courier_version) + " (C++, not Go)");
  out.member("host", options.host);
  out.member("port", static_cast<std::int64_t>(server.port()));
  if (auth && auth->auth_required()) out.member("auth_required", true);
  if (server.tls_enabled()) {
    if (!options.allow_non_tls) out.member("tls_required", true);
    if (server.tls_settings().verify) out.member("tls_verify", true);
  }
  out.member("max_connections", static_cast<std::int64_t>(options.max_connections));
  if (options.max_subscriptions > 0) out.member("max_subscriptions", static_cast<std::int64_t>(options.max_subscriptions));
  out.member("ping_interval", nanoseconds(options.ping_interval));
  out.member("ping_max", static_cast<std::int64_t>(options.ping_max));
  out.member("http_host", context.listener.http_host);
  out.member("http_port", context.listener.http_port);
  out.member("http_base_path", context.listener.base_path);
  out.member("https_port", context.listener.https_port);
  out.member("auth_timeout", auth ? seconds(auth->timeout()) : 2.0);
  out.member("max_control_line", options.max_control_line);
  out.member("max_payload", options.max_payload);
  out.member("max_pending", options.max_pending);
  for (const char* empty : {"cluster", "gateway"}) out.key(empty).empty_object();
  write_leaf_options(out, server);
  out.key("mqtt").empty_object();
  write_websocket_options(out, server);
  out.key("jetstream").empty_object();
  if (server.tls_enabled()) {
    out.member("tls_timeout", seconds(server.tls_settings().timeout));
  } else {
    out.member("tls_timeout", 2.0);
  }
  out.member("write_deadline", nanoseconds(options.write_deadline));
  out.member("start", rfc3339_nano(server.start_time()));
  out.member("now", rfc3339_nano(context.now));
  out.member("uptime", uptime_text(context.now - server.start_time()));
  out.member("mem", resident_bytes());
  const auto cores = static_cast<std::int64_t>(std::thread::hardware_concurrency());
  out.member("cores", cores);
  out.member("gomaxprocs", cores);
  out.member("cpu", cpu_percent(server.start_time(), context.now));
  out.member("connections", traffic.live_connections);
  out.member("total_connections", server.stats().total_connections.load(std::memory_order_relaxed));
  out.member("routes", 0);
  out.member("remotes", 0);
  out.member("leafnodes", static_cast<std::int64_t>(server.leafs() ? server.leafs()->count() : 0));
  out.member("in_msgs", traffic.msgs_in);
  out.member("out_msgs", traffic.msgs_out);
  out.member("in_bytes", traffic.bytes_in);
  out.member("out_bytes", traffic.bytes_out);
  out.member("slow_consumers", server.stats().slow_consumers.load(std::memory_order_relaxed));
  out.member("subscriptions", subscriptions);
  out.key("http_req_stats").begin_object();
  for (const auto& [path, count] : context.requests.snapshot()) out.member(path, count);
  out.end_object();
  out.member("config_load_time", rfc3339_nano(server.config_load_time()));
  out.member("system_account", server.system_account_name());
  out.end_object();
  return {200, "application/json", out.take()};
}

}  // namespace courier::monitor
