#include "monitor/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>

#include "broker/leaf/leaf_nodes.hpp"
#include "broker/prometheus_text.hpp"
#include "broker/server.hpp"

namespace courier::monitor {
namespace {

using broker::prometheus::family;
using broker::prometheus::metric_type;
using broker::prometheus::sample;

/// Traffic and connection counts of one account (or the whole server).
struct traffic {
  std::uint64_t connections = 0;  ///< live
  std::uint64_t msgs_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t msgs_out = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t pending_bytes = 0;  ///< live

  void add_live(const broker::connection_info& info) {
    ++connections;
    msgs_in += info.msgs_in;
    bytes_in += info.bytes_in;
    msgs_out += info.msgs_out;
    bytes_out += info.bytes_out;
    pending_bytes += info.pending_bytes;
  }
  void add_closed(const broker::traffic_totals& closed) {
    msgs_in += closed.msgs_in;
    bytes_in += closed.bytes_in;
    msgs_out += closed.msgs_out;
    bytes_out += closed.bytes_out;
  }
};

void write_server_info(std::string& out, broker::server& server) {
  family(out, "courier_info", metric_type::gauge,
         "Always 1; the labels name the server and the versions it runs and speaks.");
  sample(out, "courier_info",
         {{"version", broker::courier_version},
          {"nats_version", broker::compatible_nats_version},
          {"server_id", server.id()},
          {"server_name", server.name()}},
         std::uint64_t{1});
  const auto seconds = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };
  const auto now = std::chrono::system_clock::now();
  family(out, "courier_start_time_seconds", metric_type::gauge, "When the server started, in seconds since the epoch.");
  sample(out, "courier_start_time_seconds", {}, seconds(server.start_time()));
  family(out, "courier_uptime_seconds", metric_type::gauge, "Seconds since the server started.");
  sample(out, "courier_uptime_seconds", {}, std::chrono::duration<double>(now - server.start_time()).count());
  family(out, "courier_config_load_time_seconds", metric_type::gauge,
         "When the configuration was last loaded or reloaded, in seconds since the epoch.");
  sample(out, "courier_config_load_time_seconds", {}, seconds(server.config_load_time()));
}

void write_limits(std::string& out, const conf::server_options& options) {
  const auto limit = [&](const char* name, const char* help, std::int64_t value) {
    family(out, name, metric_type::gauge, help);
    sample(out, name, {}, static_cast<double>(value));
  };
  limit("courier_max_connections", "Configured max_connections (live client connections allowed).",
        options.max_connections);
  limit("courier_max_payload_bytes", "Configured max_payload: the largest message payload accepted.",
        options.max_payload);
  limit("courier_max_pending_bytes",
        "Configured max_pending: bytes queued for one client before it is a slow consumer.", options.max_pending);
  limit("courier_max_subscriptions", "Configured max_subscriptions per connection; 0 means unlimited.",
        options.max_subscriptions);
}

void write_connections(std::string& out, broker::server& server, const traffic& total,
                       const broker::traffic_totals& closed) {
  const auto& registry = server.connections();
  family(out, "courier_connections", metric_type::gauge,
         "Client connections by state: open now, and closed ones kept for monitoring (the most recent "
         "10000, as nats-server's /connz?state=closed).");
  sample(out, "courier_connections", {{"state", "open"}}, total.connections);
  sample(out, "courier_connections", {{"state", "closed"}},
         std::min<std::uint64_t>(closed.closed_connections, broker::connection_registry::max_closed));

  family(out, "courier_connections_total", metric_type::counter, "TCP client connections accepted since start.");
  sample(out, "courier_connections_total", {},
         server.stats().total_connections.load(std::memory_order_relaxed));

  family(out, "courier_connections_closed_total", metric_type::counter,
         "Client connections (TCP and in-process) closed since start, by reason.");
  for (const auto& [reason, count] : registry.closed_by_reason())
    sample(out, "courier_connections_closed_total", {{"reason", broker::to_string(reason)}}, count);

  family(out, "courier_slow_consumers_total", metric_type::counter,
         "Times a client was closed as a slow consumer (pending bytes or write deadline).");
  sample(out, "courier_slow_consumers_total", {}, server.stats().slow_consumers.load(std::memory_order_relaxed));

  family(out, "courier_pending_bytes", metric_type::gauge,
         "Bytes queued to open connections and not yet written.");
  sample(out, "courier_pending_bytes", {}, total.pending_bytes);

  family(out, "courier_lame_duck", metric_type::gauge, "1 while the server is in lame duck mode, else 0.");
  sample(out, "courier_lame_duck", {}, std::uint64_t{server.lame_duck() ? 1u : 0u});

  // Leaf node connections (solicited and accepted) apart from the clients',
  // as nats-server keeps them apart (/leafz, varz "leafnodes").
  const broker::leaf_nodes* leafs = server.leafs();
  family(out, "courier_leafnodes", metric_type::gauge, "Open leaf node connections, solicited and accepted.");
  sample(out, "courier_leafnodes", {}, static_cast<std::uint64_t>(leafs ? leafs->count() : 0));
  family(out, "courier_leafnode_connections_closed_total", metric_type::counter,
         "Leaf node connections closed since start, by reason.");
  if (leafs) {
    for (const auto& [reason, count] : leafs->closed_by_reason())
      sample(out, "courier_leafnode_connections_closed_total", {{"reason", broker::to_string(reason)}}, count);
  }
}

/// The four traffic counters, server-wide (no account label) or per account.
void write_traffic(std::string& out, const char* prefix, const char* scope,
                   const std::vector<std::pair<std::string, traffic>>& rows, bool with_account) {
  struct counter {
    const char* suffix;
    const char* help;
    std::uint64_t traffic::*field;
  };
  static constexpr counter counters[] = {
      {"in_msgs_total", "Messages received from clients", &traffic::msgs_in},
      {"in_bytes_total", "Payload bytes received from clients", &traffic::bytes_in},
      {"out_msgs_total", "Messages delivered to clients", &traffic::msgs_out},
      {"out_bytes_total", "Payload bytes delivered to clients", &traffic::bytes_out},
  };
  for (const auto& c : counters) {
    const std::string name = std::string(prefix) + c.suffix;
    family(out, name, metric_type::counter,
           std::string(c.help) + ", " + scope + ", by open and closed connections since start.");
    for (const auto& [account, row] : rows) {
      if (with_account) {
        sample(out, name, {{"account", account}}, row.*c.field);
      } else {
        sample(out, name, {}, row.*c.field);
      }
    }
  }
}

}  // namespace

std::string render_metrics(broker::server& server) {
  std::string out;
  out.reserve(8192);
  // Live connections and closed totals in one registry snapshot (see
  // connection_registry::open_info).
  std::map<std::string, broker::traffic_totals, std::less<>> closed_by_account;
  const auto open = server.connections().open_info(closed_by_account);
  broker::traffic_totals closed;
  std::map<std::string, traffic, std::less<>> by_account;
  traffic total;
  for (const auto& [account, sums] : closed_by_account) {
    closed.closed_connections += sums.closed_connections;
    total.add_closed(sums);
    by_account[account].add_closed(sums);
  }
  for (const auto& info : open) {
    total.add_live(info);
    by_account[info.identity.account].add_live(info);
  }
  const auto accounts = server.accounts();  // by name

  write_server_info(out, server);
  write_limits(out, server.options());
  write_connections(out, server, total, closed);
  write_traffic(out, "courier_", "server-wide", {{"", total}}, false);

  std::uint64_t subscriptions = 0;
  for (const auto* account : accounts) subscriptions += account->router.count();
  family(out, "courier_subscriptions", metric_type::gauge, "Subscriptions in the router, all accounts.");
  sample(out, "courier_subscriptions", {}, subscriptions);

  // Per account. Connections that have not sent CONNECT yet belong to no
  // account: they count in the server totals only.
  std::vector<std::pair<std::string, traffic>> rows;
  for (const auto* account : accounts) {
    auto it = by_account.find(account->name);
    rows.emplace_back(account->name, it == by_account.end() ? traffic{} : it->second);
  }
  family(out, "courier_account_connections", metric_type::gauge, "Open client connections per account.");
  for (const auto& [name, row] : rows) sample(out, "courier_account_connections", {{"account", name}}, row.connections);
  family(out, "courier_account_subscriptions", metric_type::gauge, "Subscriptions per account.");
  for (const auto* account : accounts)
    sample(out, "courier_account_subscriptions", {{"account", account->name}},
           static_cast<std::uint64_t>(account->router.count()));
  write_traffic(out, "courier_account_", "per account", rows, true);

  server.metrics_sources().write_all(out);
  return out;
}

http_reply metrics(const endpoint_context& context, const query_params&) {
  return {200, metrics_content_type, render_metrics(context.server)};
}

}  // namespace courier::monitor
