// /accountz and /accstatz: the accounts, one in detail, and per-account traffic.
#include <algorithm>

#include "broker/connection_registry.hpp"
#include "broker/leaf/leaf_nodes.hpp"
#include "broker/server.hpp"
#include "monitor/endpoints.hpp"
#include "monitor/go_format.hpp"
#include "monitor/json_writer.hpp"

namespace courier::monitor {

namespace {

struct account_traffic {
  std::uint64_t connections = 0;  // live clients
  std::uint64_t leafnodes = 0;    // live leaf connections bound to the account
  std::uint64_t msgs_in = 0, bytes_in = 0, msgs_out = 0, bytes_out = 0;
  std::uint64_t slow_consumers = 0;  // cut off as slow consumers (of the closed ones remembered)
};

/// Per account: live connections, and the traffic of the live and the
/// closed connections still remembered.
std::map<std::string, account_traffic> traffic_by_account(broker::server& server) {
  std::map<std::string, account_traffic> out;
  auto add = [&out](const broker::connection_info& c, bool live) {
    auto& t = out[c.identity.account];
    if (live) ++t.connections;
    if (c.reason == broker::close_reason::slow_consumer_pending_bytes ||
        c.reason == broker::close_reason::slow_consumer_write_deadline) {
      ++t.slow_consumers;
    }
    t.msgs_in += c.msgs_in;
    t.bytes_in += c.bytes_in;
    t.msgs_out += c.msgs_out;
    t.bytes_out += c.bytes_out;
  };
  for (const auto& c : server.connections().open_info()) add(c, true);
  for (const auto& c : server.connections().closed_info()) add(c, false);
  if (const auto* leafs = server.leafs()) {
    for (const auto& leaf : leafs->snapshot()) ++out[leaf.account].leafnodes;
  }
  return out;
}

void write_account_detail(json_writer& out, broker::server& server, const broker::account& account,
                          const account_traffic& traffic) {
  out.begin_object();
  out.member("account_name", account.name);
  out.member("update_time", rfc3339_nano(server.config_load_time()));
  out.member("expired", false);
  out.member("complete", true);
  out.member("jetstream_enabled", false);
  out.member("leafnode_connections", traffic.leafnodes);
  out.member("client_connections", traffic.connections);
  const auto stats = account.router.stats();
  out.member("subscriptions", static_cast<std::uint64_t>(stats.subscriptions));
  // The system services nats-server imports into every other account
  // (monitor/system_service answers them there).
  const std::string& system = server.system_account_name();
  if (!system.empty() && account.name != system) {
    out.key("imports").begin_array();
    const std::pair<const char*, const char*> imports[] = {
        {"$SYS.REQ.SERVER.PING.CONNZ", "CONNZ"},
        {"$SYS.REQ.ACCOUNT.PING.CONNZ", "CONNZ"},
        {"$SYS.REQ.ACCOUNT.PING.STATZ", "STATZ"},
    };
    for (const auto& [subject, endpoint] : imports) {
      out.begin_object();
      out.member("subject", subject);
      out.member("account", system);
      out.member("to", "$SYS.REQ.ACCOUNT." + account.name + "." + endpoint);
      out.member("type", "service");
      out.member("invalid", false);
      out.member("share", false);
      out.member("tracking", false);
      out.end_object();
    }
    out.end_array();
  }
  out.key("sublist_stats");
  out.begin_object();
  write_sublist_stats(out, stats);
  out.end_object();
  out.end_object();
}

}  // namespace

http_reply accountz(const endpoint_context& context, const query_params& query) {
  broker::server& server = context.server;
  const std::string wanted = query.get("acc");
  json_writer out(context.layout);
  out.begin_object();
  out.member("server_id", server.id());
  out.member("now", rfc3339_nano(context.now));
  out.member("system_account", server.system_account_name());
  if (wanted.empty()) {
    out.key("accounts").begin_array();
    for (const auto* account : server.accounts()) out.value(account->name);
    out.end_array();
  } else {
    const broker::account* found = nullptr;
    for (const auto* account : server.accounts()) {
      if (account->name == wanted) found = account;
    }
    if (!found) return http_reply::bad_request("Account " + wanted + " does not exist");
    const auto traffic = traffic_by_account(server);
    auto it = traffic.find(found->name);
    out.key("account_detail");
    write_account_detail(out, server, *found, it == traffic.end() ? account_traffic{} : it->second);
  }
  out.end_object();
  return {200, "application/json", out.take()};
}

http_reply accstatz(const endpoint_context& context, const query_params& query) {
  broker::server& server = context.server;
  auto unused = decode_bool(query, "unused");
  if (!unused.error.empty()) return http_reply::bad_request(unused.error);
  // nats-server's /accstatz takes no acc= (?acc=B still lists every
  // account with connections), so neither does this.
  const auto traffic = traffic_by_account(server);
  json_writer out(context.layout);
  out.begin_object();
  out.member("server_id", server.id());
  out.member("now", rfc3339_nano(context.now));
  out.key("account_statz").begin_array();
  for (const auto* account : server.accounts()) {
    auto it = traffic.find(account->name);
    const account_traffic t = it == traffic.end() ? account_traffic{} : it->second;
    // Without unused=1, only accounts with a connection.
    if (!unused.value && t.connections == 0) continue;
    out.begin_object();
    out.member("acc", account->name);
    out.member("conns", t.connections);
    out.member("leafnodes", t.leafnodes);
    out.member("total_conns", t.connections + t.leafnodes);
    out.key("sent").begin_object().member("msgs", t.msgs_out).member("bytes", t.bytes_out).end_object();
    out.key("received").begin_object().member("msgs", t.msgs_in).member("bytes", t.bytes_in).end_object();
    out.member("slow_consumers", t.slow_consumers);
    out.end_object();
  }
  out.end_array();
  out.end_object();
  return {200, "application/json", out.take()};
}

}  // namespace courier::monitor
