// The endpoints of what Courier does not have (routes, gateways,
// JetStream), answered as a nats-server without them answers, and /healthz.
// (/leafz is monitor/leafz.cpp.)
#include <initializer_list>
#include <optional>

#include "broker/server.hpp"
#include "monitor/endpoints.hpp"
#include "monitor/go_format.hpp"
#include "monitor/json_writer.hpp"

namespace courier::monitor {

namespace {

json_writer header(const endpoint_context& context) {
  json_writer out(context.layout);
  out.begin_object();
  out.member("server_id", context.server.id());
  out.member("now", rfc3339_nano(context.now));
  return out;
}

/// nats-server's 400 for the first of an endpoint's boolean options that
/// does not decode (its options are checked even where they change nothing).
std::optional<http_reply> bad_flag(const query_params& query, std::initializer_list<const char*> flags) {
  for (const char* flag : flags) {
    auto decoded = decode_bool(query, flag);
    if (!decoded.error.empty()) return http_reply::bad_request(decoded.error);
  }
  return std::nullopt;
}

http_reply finish(json_writer& out) {
  out.end_object();
  return {200, "application/json", out.take()};
}

}  // namespace

http_reply routez(const endpoint_context& context, const query_params& query) {
  // subs=detail is valid here (as on /connz); anything else must be a bool.
  if (query.get("subs") != "detail") {
    if (auto refused = bad_flag(query, {"subs"})) return *refused;
  }
  auto out = header(context);
  out.member("num_routes", 0);
  out.key("routes").empty_array();
  return finish(out);
}

http_reply gatewayz(const endpoint_context& context, const query_params& query) {
  if (auto refused = bad_flag(query, {"accs"})) return *refused;
  auto out = header(context);
  out.key("outbound_gateways").empty_object();
  out.key("inbound_gateways").empty_object();
  return finish(out);
}

http_reply jsz(const endpoint_context& context, const query_params& query) {
  if (auto refused = bad_flag(query, {"accounts", "streams", "consumers", "config", "leader-only"})) return *refused;
  // nats-server also refuses a malformed offset= or limit= here.
  std::int64_t ignored = 0;
  for (const char* number : {"offset", "limit"}) {
    if (auto error = decode_int(query, number, ignored)) return http_reply::bad_request(*error);
  }
  auto out = header(context);
  out.member("disabled", true);
  out.key("config").begin_object().member("max_memory", 0).member("max_storage", 0).end_object();
  for (const char* zero : {"memory", "storage", "reserved_memory", "reserved_storage", "accounts", "ha_assets"}) {
    out.member(zero, 0);
  }
  out.key("api").begin_object().member("total", 0).member("errors", 0).end_object();
  for (const char* zero : {"streams", "consumers", "messages", "bytes"}) out.member(zero, 0);
  return finish(out);
}

http_reply healthz(const endpoint_context&, const query_params& query) {
  for (const char* flag : {"js-enabled-only", "js-server-only", "js-enabled"}) {
    auto decoded = decode_bool(query, flag);
    if (!decoded.error.empty()) return http_reply::bad_request(decoded.error);
  }
  // Not indented: nats-server writes this one compact.
  return {200, "application/json", R"({"status":"ok"})"};
}

http_reply index_page(const endpoint_context& context, const query_params&) {
  const std::string& base = context.listener.base_path;
  auto link = [&base](std::string_view path, std::string_view text) {
    std::string href = base;
    if (href.empty() || href.back() != '/') href += '/';
    href += path;
    return "    <li><a href=\"" + href + "\">" + std::string(text) + "</a></li>\n";
  };
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n"
      "  <title>Courier monitoring</title>\n"
      "  <style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
      "a{color:#1d4ed8;text-decoration:none}a:hover{text-decoration:underline}li{margin:.3rem 0}</style>\n"
      "</head>\n<body>\n  <h1>Courier</h1>\n  <p>nats-server " +
      std::string(broker::compatible_nats_version) + " compatible monitoring, courier " +
      std::string(broker::courier_version) + ".</p>\n  <ul>\n";
  page += link("varz", "General (varz)");
  page += link("connz", "Connections (connz)");
  page += link("routez", "Routes (routez)");
  page += link("gatewayz", "Gateways (gatewayz)");
  page += link("leafz", "Leaf nodes (leafz)");
  page += link("subsz", "Subscriptions (subsz)");
  page += link("accountz", "Accounts (accountz)");
  page += link("accstatz", "Account statistics (accstatz)");
  page += link("jsz", "JetStream (jsz)");
  page += link("healthz", "Health (healthz)");
  page += link("metrics", "Prometheus metrics (metrics)");
  page += link("dashboard", "Live dashboard");
  page += "  </ul>\n</body>\n</html>\n";
  return {200, "text/html; charset=utf-8", std::move(page)};
}

}  // namespace courier::monitor
