#include "monitor/monitoring.hpp"

#include <stdexcept>

#include "broker/logger.hpp"
#include "broker/server.hpp"
#include "monitor/metrics.hpp"

namespace courier::monitor {

namespace {

/// http_base_path as nats-server cleans it: "" or "/path" without a trailing slash.
std::string clean_base_path(std::string path) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (!path.empty() && path.front() != '/') path.insert(path.begin(), '/');
  return path;
}

}  // namespace

monitoring::monitoring(broker::server& server) : server_(server), system_(server, listener_, requests_) {
  const auto& options = server.options();
  listener_.http_host = options.http_host.empty() ? options.host : options.http_host;
  listener_.base_path = clean_base_path(options.http_base_path);
  routes_ = {
      {"/", index_page},         {"/varz", varz},         {"/connz", connz},   {"/routez", routez},
      {"/gatewayz", gatewayz},   {"/leafz", leafz},       {"/subsz", subsz},   {"/subscriptionsz", subsz},
      {"/accountz", accountz},   {"/accstatz", accstatz}, {"/jsz", jsz},       {"/healthz", healthz},
      {"/dashboard", dashboard},
      {"/metrics", metrics},  // Prometheus text format (monitor/metrics)
  };
}

monitoring::~monitoring() { stop(); }

void monitoring::check(const broker::server& server) {
  if (server.options().https_port != 0 && !server.tls_enabled())
    throw std::runtime_error("https monitoring port needs a tls configuration");
}

void monitoring::start() {
  check(server_);
  system_.start();  // nats-server answers $SYS requests without -m too
  const auto& options = server_.options();
  if (options.http_port == 0 && options.https_port == 0) return;
  http_ = std::make_unique<http_server>(
      [this](std::string_view method, std::string_view target) { return handle(method, target); });
  if (options.http_port != 0) {
    listener_.http_port = http_->listen(listener_.http_host, options.http_port, nullptr);
    broker::log().notice("Starting http monitor on ", listener_.http_host, ":", listener_.http_port);
  }
  if (options.https_port != 0) {
    auto tls = server_.tls_asio_context();
    if (!tls) throw std::runtime_error("https monitoring port needs a tls configuration");
    listener_.https_port = http_->listen(listener_.http_host, options.https_port, std::move(tls));
    broker::log().notice("Starting https monitor on ", listener_.http_host, ":", listener_.https_port);
  }
  http_->run();
}

void monitoring::stop() {
  system_.stop();
  if (http_) http_->stop();
}

http_reply monitoring::handle(std::string_view, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  const std::string& base = listener_.base_path;
  if (!base.empty()) {
    if (path.substr(0, base.size()) != base) return http_reply::not_found();
    path.remove_prefix(base.size());
    // nats-server registers the index at the base path itself: "/mon" is
    // the index page, "/mon/" is a 404.
    if (path == "/") return http_reply::not_found();
    if (path.empty()) path = "/";
  }
  auto route = routes_.find(path);
  if (route == routes_.end()) return http_reply::not_found();
  // nats-server counts a request as it arrives, except /connz and /routez,
  // which count it once their query options decoded: a 400 "Error decoding
  // ..." there is not counted (a refused sort is).
  const bool counted_after_decoding = route->first == "/connz" || route->first == "/routez";
  if (!counted_after_decoding) requests_.count(route->first);
  const query_params query(target);
  const endpoint_context context{server_, listener_, requests_};
  http_reply reply = route->second(context, query);
  const bool decode_error = reply.status == 400 && reply.body.rfind("Error decoding", 0) == 0;
  if (counted_after_decoding && !decode_error) requests_.count(route->first);
  // JSONP, as nats-server: ?callback=name wraps a JSON answer.
  const std::string callback = query.get("callback");
  if (!callback.empty() && reply.status == 200 && reply.content_type == "application/json") {
    reply.body = callback + "(" + reply.body + ")";
    reply.content_type = "application/javascript";
  }
  return reply;
}

}  // namespace courier::monitor
