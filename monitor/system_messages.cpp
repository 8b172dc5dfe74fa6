#include "monitor/system_messages.hpp"

#include <algorithm>
#include <random>
#include <thread>

#include "broker/connection_registry.hpp"
#include "broker/server.hpp"
#include "monitor/go_format.hpp"
#include "monitor/process_usage.hpp"

namespace courier::monitor {

namespace {

void write_data_stats(json_writer& out, std::string_view name, std::uint64_t msgs, std::uint64_t bytes) {
  out.key(name).begin_object().member("msgs", msgs).member("bytes", bytes).end_object();
}

/// TypedEvent's members: type, id, timestamp.
void write_typed_event(json_writer& out, std::string_view type, const std::string& id,
                       std::chrono::system_clock::time_point stamp) {
  out.member("type", type);
  out.member("id", id);
  out.member("timestamp", rfc3339_nano(stamp));
}

/// ClientInfo, its omitempty fields left out when empty.
void write_client_info(json_writer& out, const broker::connection_info& client, bool closed) {
  out.key("client").begin_object();
  out.member("start", rfc3339_nano(client.start));
  if (!client.remote_ip.empty()) out.member("host", client.remote_ip);
  if (client.cid != 0) out.member("id", client.cid);
  out.member("acc", client.identity.account);
  if (!client.identity.user.empty()) out.member("user", client.identity.user);
  if (!client.identity.name.empty()) out.member("name", client.identity.name);
  if (!client.identity.lang.empty()) out.member("lang", client.identity.lang);
  if (!client.identity.version.empty()) out.member("ver", client.identity.version);
  if (client.rtt.count() != 0) out.member("rtt", static_cast<std::int64_t>(client.rtt.count()));
  if (closed) out.member("stop", rfc3339_nano(client.stop));
  out.member("kind", "Client");
  out.member("client_type", "nats");
  out.end_object();
}

}  // namespace

void write_server_info(json_writer& out, const broker::server& server, std::uint64_t seq,
                       std::chrono::system_clock::time_point now) {
  out.begin_object();
  out.member("name", server.name());
  out.member("host", server.options().host);
  out.member("id", server.id());
  out.member("ver", broker::compatible_nats_version);
  out.member("seq", seq);
  out.member("jetstream", false);
  out.member("time", rfc3339_nano(now));
  out.end_object();
}

std::string statsz_message(broker::server& server, std::uint64_t seq, std::chrono::system_clock::time_point now) {
  // Totals as /varz counts them: live connections plus those closed.
  std::vector<std::string> active;
  for (const auto& info : server.connections().open_info()) {
    const auto& account = info.identity.account;
    if (!account.empty() && std::find(active.begin(), active.end(), account) == active.end()) active.push_back(account);
  }
  const auto traffic = server.connections().all_traffic();
  std::uint64_t subscriptions = 0;
  for (const auto* account : server.accounts()) subscriptions += account->router.count();

  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("server");
  write_server_info(out, server, seq, now);
  out.key("statsz").begin_object();
  out.member("start", rfc3339_nano(server.start_time()));
  out.member("mem", resident_bytes());
  out.member("cores", static_cast<std::int64_t>(std::thread::hardware_concurrency()));
  out.member("cpu", cpu_percent(server.start_time(), now));
  out.member("connections", traffic.live_connections);
  out.member("total_connections", server.stats().total_connections.load());
  out.member("active_accounts", static_cast<std::uint64_t>(active.size()));
  out.member("subscriptions", subscriptions);
  write_data_stats(out, "sent", traffic.msgs_out, traffic.bytes_out);
  write_data_stats(out, "received", traffic.msgs_in, traffic.bytes_in);
  out.member("slow_consumers", server.stats().slow_consumers.load());
  out.member("active_servers", 1);
  out.end_object();
  out.end_object();
  return out.take();
}

std::string data_response(const broker::server& server, std::uint64_t seq, std::chrono::system_clock::time_point now,
                          std::string_view document) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("server");
  write_server_info(out, server, seq, now);
  out.end_object();
  // The document is already JSON: spliced in as the "data" member.
  std::string text = out.take();
  text.pop_back();
  text += ",\"data\":";
  text += document;
  text += '}';
  return text;
}

std::string error_response(const broker::server& server, std::uint64_t seq, std::chrono::system_clock::time_point now,
                           int code, std::string_view description, bool with_null_data) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("server");
  write_server_info(out, server, seq, now);
  if (with_null_data) out.key("data").null();
  out.key("error").begin_object();
  out.member("code", code);
  if (!description.empty()) out.member("description", description);
  out.end_object();
  out.end_object();
  return out.take();
}

void write_account_stat(json_writer& out, const account_stat& stat) {
  out.member("acc", stat.account);
  out.member("conns", stat.conns);
  out.member("leafnodes", stat.leafnodes);
  out.member("total_conns", stat.conns + stat.leafnodes);
  write_data_stats(out, "sent", stat.msgs_sent, stat.bytes_sent);
  write_data_stats(out, "received", stat.msgs_received, stat.bytes_received);
  out.member("slow_consumers", stat.slow_consumers);
}

std::string event_id() {
  static constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::string id(22, '0');
  for (auto& c : id) c = digits[random() % 62];
  return id;
}

std::string connect_advisory(const broker::server& server, std::uint64_t seq, std::chrono::system_clock::time_point now,
                             const std::string& id, const broker::connection_info& client) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  write_typed_event(out, connect_event_type, id, now);
  out.key("server");
  write_server_info(out, server, seq, now);
  write_client_info(out, client, false);
  out.end_object();
  return out.take();
}

std::string disconnect_advisory(const broker::server& server, std::uint64_t seq,
                                std::chrono::system_clock::time_point now, const std::string& id,
                                const broker::connection_info& client) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  write_typed_event(out, disconnect_event_type, id, client.stop);
  out.key("server");
  write_server_info(out, server, seq, now);
  write_client_info(out, client, true);
  // Seen from the client (as nats-server counts them): what it sent the
  // server, what it received from it.
  write_data_stats(out, "sent", client.msgs_in, client.bytes_in);
  write_data_stats(out, "received", client.msgs_out, client.bytes_out);
  out.member("reason", client.reason ? broker::to_string(*client.reason) : "");
  out.end_object();
  return out.take();
}

std::string account_connections_advisory(const broker::server& server, std::uint64_t seq,
                                         std::chrono::system_clock::time_point now, const std::string& id,
                                         std::chrono::system_clock::time_point stamp, const account_stat& stat) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  write_typed_event(out, account_connections_type, id, stamp);
  out.key("server");
  write_server_info(out, server, seq, now);
  write_account_stat(out, stat);
  out.end_object();
  return out.take();
}

}  // namespace courier::monitor
