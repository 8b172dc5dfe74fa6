#include "monitor/system_service.hpp"

#include "broker/leaf/leaf_nodes.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "broker/connection_registry.hpp"
#include "broker/in_process.hpp"
#include "broker/logger.hpp"
#include "broker/server.hpp"
#include "monitor/endpoints.hpp"
#include "monitor/go_format.hpp"
#include "monitor/request_options.hpp"
#include "monitor/system_messages.hpp"

namespace courier::monitor {

namespace {

using kind = json_option::kind;

// nats-server's *EventOptions structs, field by field (json tags and Go
// types), each with the EventFilterOptions it embeds.
#define COURIER_EVENT_FILTER                                                                               \
  {"server_name", kind::text, "string"}, {"cluster", kind::text, "string"}, {"host", kind::text, "string"}, \
      {"tags", kind::text_list, "[]string"}, {"domain", kind::text, "string"}
const json_option filter_only[] = {COURIER_EVENT_FILTER};
const json_option connz_options[] = {
    {"sort", kind::text, "server.SortOpt"},      {"auth", kind::boolean, "bool"},
    {"subscriptions", kind::boolean, "bool"},    {"subscriptions_detail", kind::boolean, "bool"},
    {"offset", kind::signed_integer, "int"},     {"limit", kind::signed_integer, "int"},
    {"cid", kind::unsigned_integer, "uint64"},   {"mqtt_client", kind::text, "string"},
    {"state", kind::signed_integer, "server.ConnState"}, {"user", kind::text, "string"},
    {"acc", kind::text, "string"},               COURIER_EVENT_FILTER};
const json_option subsz_options[] = {{"offset", kind::signed_integer, "int"},
                                     {"limit", kind::signed_integer, "int"},
                                     {"subscriptions", kind::boolean, "bool"},
                                     {"account", kind::text, "string"},
                                     {"test", kind::text, "string"},
                                     COURIER_EVENT_FILTER};
const json_option routez_options[] = {
    {"subscriptions", kind::boolean, "bool"}, {"subscriptions_detail", kind::boolean, "bool"}, COURIER_EVENT_FILTER};
const json_option gatewayz_options[] = {{"name", kind::text, "string"},
                                        {"accounts", kind::boolean, "bool"},
                                        {"account_name", kind::text, "string"},
                                        COURIER_EVENT_FILTER};
const json_option leafz_options[] = {
    {"subscriptions", kind::boolean, "bool"}, {"account", kind::text, "string"}, COURIER_EVENT_FILTER};
const json_option accountz_options[] = {{"account", kind::text, "string"}, COURIER_EVENT_FILTER};
const json_option jsz_options[] = {{"account", kind::text, "string"},       {"accounts", kind::boolean, "bool"},
                                   {"streams", kind::boolean, "bool"},      {"consumer", kind::boolean, "bool"},
                                   {"config", kind::boolean, "bool"},       {"leader_only", kind::boolean, "bool"},
                                   {"offset", kind::signed_integer, "int"}, {"limit", kind::signed_integer, "int"},
                                   {"raft", kind::boolean, "bool"},         COURIER_EVENT_FILTER};
const json_option healthz_options[] = {{"js-enabled", kind::boolean, "bool"},
                                       {"js-enabled-only", kind::boolean, "bool"},
                                       {"js-server-only", kind::boolean, "bool"},
                                       COURIER_EVENT_FILTER};
const json_option statz_options[] = {
    {"accounts", kind::text_list, "[]string"}, {"include_unused", kind::boolean, "bool"}, COURIER_EVENT_FILTER};
#undef COURIER_EVENT_FILTER

using endpoint_function = http_reply (*)(const endpoint_context&, const query_params&);

/// A $SYS.REQ.SERVER.PING.<token> / $SYS.REQ.SERVER.<id>.<token> endpoint.
struct server_endpoint {
  std::string_view token;
  std::string_view struct_name;
  std::span<const json_option> options;
  endpoint_function function;  // null: statsz
};
const server_endpoint server_endpoints[] = {
    {"STATSZ", "StatszEventOptions", filter_only, nullptr},
    {"VARZ", "VarzEventOptions", filter_only, varz},
    {"SUBSZ", "SubszEventOptions", subsz_options, subsz},
    {"CONNZ", "ConnzEventOptions", connz_options, connz},
    {"ROUTEZ", "RoutezEventOptions", routez_options, routez},
    {"GATEWAYZ", "GatewayzEventOptions", gatewayz_options, gatewayz},
    {"LEAFZ", "LeafzEventOptions", leafz_options, leafz},
    {"ACCOUNTZ", "AccountzEventOptions", accountz_options, accountz},
    {"JSZ", "JszEventOptions", jsz_options, jsz},
    {"HEALTHZ", "HealthzEventOptions", healthz_options, healthz},
};
/// The $SYS.REQ.ACCOUNT.<acc>.<token> endpoints.
const char* const account_endpoints[] = {"SUBSZ", "CONNZ", "LEAFZ", "JSZ", "INFO", "STATZ"};

const server_endpoint* find_server_endpoint(std::string_view token) {
  for (const auto& e : server_endpoints) {
    if (e.token == token) return &e;
  }
  return nullptr;
}

/// The JSON options as the query parameters the endpoint functions read.
std::vector<std::pair<std::string, std::string>> to_query(const decoded_options& options) {
  std::vector<std::pair<std::string, std::string>> query;
  auto copy = [&](std::string_view json_name, std::string_view query_name) {
    if (options.has(json_name)) query.emplace_back(std::string(query_name), options.get(json_name));
  };
  if (options.get("subscriptions_detail") == "true") query.emplace_back("subs", "detail");
  copy("subscriptions", "subs");
  copy("sort", "sort");
  copy("auth", "auth");
  copy("offset", "offset");
  copy("limit", "limit");
  copy("cid", "cid");
  copy("mqtt_client", "mqtt_client");
  copy("user", "user");
  copy("acc", "acc");
  copy("account", "acc");
  copy("test", "test");
  copy("js-enabled", "js-enabled");
  copy("js-enabled-only", "js-enabled-only");
  copy("js-server-only", "js-server-only");
  if (options.has("state")) {
    // ConnState: 0 open, 1 closed, 2 all.
    const std::string state = options.get("state");
    query.emplace_back("state", state == "1" ? "closed" : state == "2" ? "all" : "open");
  }
  return query;
}

/// True when the request's EventFilterOptions leave this server out
/// (nats-server's filterRequest): names and hosts match by substring;
/// Courier has no cluster, tags or JetStream domain.
bool filtered_out(const broker::server& server, const decoded_options& options) {
  const std::string name = options.get("server_name");
  if (!name.empty() && server.name().find(name) == std::string::npos) return true;
  const std::string host = options.get("host");
  if (!host.empty() && server.options().host.find(host) == std::string::npos) return true;
  if (!options.get("cluster").empty()) return true;
  if (!options.get("tags").empty()) return true;
  if (!options.get("domain").empty()) return true;
  return false;
}

std::vector<std::string_view> tokens(std::string_view subject) {
  std::vector<std::string_view> out;
  while (true) {
    const auto dot = subject.find('.');
    out.push_back(subject.substr(0, dot));
    if (dot == std::string_view::npos) return out;
    subject.remove_prefix(dot + 1);
  }
}

}  // namespace

/// Everything the callbacks, the observer and the worker share. Callbacks
/// and the observer hold it weakly, so a late one after stop() finds it
/// gone or stopped and does nothing.
struct system_service::core {
  /// Which subscription a request came through.
  enum class scope {
    server,    ///< $SYS.REQ.SERVER.PING[.X], $SYS.REQ.SERVER.<id>.X (system account)
    account,   ///< $SYS.REQ.ACCOUNT.<acc>.X (system account)
    imported,  ///< one of the three subjects imported into every other account
  };
  struct request_job {
    scope where;
    std::string account;  ///< the responder's account
    std::string subject, reply, payload;
  };
  using job = std::variant<request_job, broker::connection_event>;

  core(broker::server& s, const listener_facts& l, const request_counts& r)
      : server(s), listener(l), requests(r) {}

  broker::server& server;
  const listener_facts& listener;
  const request_counts& requests;

  std::shared_ptr<broker::local_client> system_client;
  std::map<std::string, std::shared_ptr<broker::local_client>, std::less<>> account_clients;

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<job> jobs;   // lock: mutex
  bool stopping = false;  // lock: mutex
  std::thread worker;
  bool stopped = false;  // stop() ran (the owner's thread)

  // Worker thread only.
  std::uint64_t seq = 0;
  std::map<std::string, std::uint64_t, std::less<>> live_connections;  // by account
  std::map<std::string, broker::traffic_totals, std::less<>> closed_traffic;  // by account
  /// Snapshot of the open connections, taken at most once per batch of jobs.
  std::optional<std::vector<broker::connection_info>> open;

  void enqueue(job work) {
    {
      std::lock_guard lock(mutex);
      if (stopping) return;
      jobs.push_back(std::move(work));
    }
    wake.notify_one();
  }

  void run() {
    using clock = std::chrono::steady_clock;
    // Heartbeats, as nats-server 2.9.10 sends them (measured): statsz on
    // $SYS.SERVER.<id>.STATSZ after 0.5 s, then at intervals doubling from
    // 1 s up to 30 s; each account's connection count every 30 s while it
    // has connections.
    auto statsz_interval = std::chrono::milliseconds(500);
    auto next_statsz = clock::now() + statsz_interval;
    statsz_interval = std::chrono::seconds(1);
    auto next_conns = clock::now() + conns_heartbeat;
    std::unique_lock lock(mutex);
    while (true) {
      wake.wait_until(lock, std::min(next_statsz, next_conns), [this] { return stopping || !jobs.empty(); });
      if (stopping) return;
      std::deque<job> batch;
      batch.swap(jobs);
      lock.unlock();
      open.reset();
      for (auto& work : batch) {
        guarded([&] {
          if (auto* request = std::get_if<request_job>(&work)) {
            answer(*request);
          } else {
            announce(std::get<broker::connection_event>(work));
          }
        });
      }
      const auto now = clock::now();
      if (now >= next_statsz) {
        guarded([&] {
          send(*system_client, "$SYS.SERVER." + server.id() + ".STATSZ",
               statsz_message(server, ++seq, std::chrono::system_clock::now()));
        });
        next_statsz = now + statsz_interval;
        statsz_interval = std::min<std::chrono::milliseconds>(statsz_interval * 2, max_statsz_interval);
      }
      if (now >= next_conns) {
        guarded([&] {
          for (const auto& [account, count] : live_connections) {
            if (count > 0 && account != "$G") send_account_connections(account);
          }
        });
        next_conns = now + conns_heartbeat;
      }
      lock.lock();
    }
  }

  static constexpr std::chrono::seconds conns_heartbeat{30};     // nats-server eventsHBInterval
  static constexpr std::chrono::seconds max_statsz_interval{30};

  /// Runs one piece of work; a client closed under us (shutdown) or a
  /// refused publish drops it.
  template <typename Work>
  static void guarded(Work&& work) {
    try {
      work();
    } catch (const std::exception& e) {
      broker::log().debug("System service: ", e.what());
    }
  }

  broker::local_client& client_of(std::string_view account) {
    auto it = account_clients.find(account);
    return it == account_clients.end() ? *system_client : *it->second;
  }
  void send(broker::local_client& client, const std::string& subject, const std::string& body) {
    client.publish(subject, body);
  }

  const std::vector<broker::connection_info>& open_connections() {
    if (!open) open = server.connections().open_info();
    return *open;
  }

  /// An account's connections and traffic (AccountStat).
  account_stat stat_of(const std::string& account) {
    account_stat stat;
    stat.account = account;
    auto live = live_connections.find(account);
    stat.conns = live == live_connections.end() ? 0 : live->second;
    if (const auto* leafs = server.leafs()) {
      for (const auto& leaf : leafs->snapshot()) stat.leafnodes += leaf.account == account ? 1 : 0;
    }
    auto closed = closed_traffic.find(account);
    if (closed != closed_traffic.end()) {
      stat.msgs_sent = closed->second.msgs_out;
      stat.bytes_sent = closed->second.bytes_out;
      stat.msgs_received = closed->second.msgs_in;
      stat.bytes_received = closed->second.bytes_in;
    }
    for (const auto& info : open_connections()) {
      if (info.in_process || info.identity.account != account) continue;
      stat.msgs_sent += info.msgs_out;
      stat.bytes_sent += info.bytes_out;
      stat.msgs_received += info.msgs_in;
      stat.bytes_received += info.bytes_in;
    }
    return stat;
  }

  // ---- advisories ----

  void announce(const broker::connection_event& event) {
    const auto& info = event.info;
    const std::string& account = info.identity.account;
    if (account.empty()) return;
    const bool connected = event.what == broker::connection_event::kind::connected;
    if (connected) {
      ++live_connections[account];
    } else {
      auto& live = live_connections[account];
      if (live > 0) --live;
      auto& closed = closed_traffic[account];
      closed.msgs_in += info.msgs_in;
      closed.bytes_in += info.bytes_in;
      closed.msgs_out += info.msgs_out;
      closed.bytes_out += info.bytes_out;
      if (open) {
        std::erase_if(*open, [&](const broker::connection_info& c) { return c.cid == info.cid; });
      }
    }
    // nats-server announces no activity of the global account (its counts
    // still answer STATZ).
    if (account == "$G") return;
    // The account's connection count, then the client's own advisory.
    send_account_connections(account);
    const auto now = std::chrono::system_clock::now();
    if (connected) {
      send(*system_client, "$SYS.ACCOUNT." + account + ".CONNECT", connect_advisory(server, ++seq, now, event_id(), info));
    } else {
      send(*system_client, "$SYS.ACCOUNT." + account + ".DISCONNECT",
           disconnect_advisory(server, ++seq, now, event_id(), info));
    }
  }

  /// The account_connections advisory, under the old subject then the new
  /// one (one event, one id).
  void send_account_connections(const std::string& account) {
    const auto stamp = std::chrono::system_clock::now();
    const std::string id = event_id();
    const account_stat stat = stat_of(account);
    for (const std::string& subject :
         {"$SYS.SERVER.ACCOUNT." + account + ".CONNS", "$SYS.ACCOUNT." + account + ".SERVER.CONNS"}) {
      send(*system_client, subject,
           account_connections_advisory(server, ++seq, std::chrono::system_clock::now(), id, stamp, stat));
    }
  }

  // ---- requests ----

  void answer(const request_job& request) {
    const auto parts = tokens(request.subject);
    if (request.where == scope::server) {
      if (parts.size() == 4) {  // $SYS.REQ.SERVER.PING: statsz
        answer_statsz(request, "StatszEventOptions");
        return;
      }
      const server_endpoint* endpoint = find_server_endpoint(parts.back());
      if (endpoint == nullptr || request.reply.empty()) return;
      answer_endpoint(request, *endpoint, {});
      return;
    }
    if (request.reply.empty()) return;
    if (request.where == scope::imported) {
      // Answered for the requester's own account only.
      if (parts.back() == "STATZ") {
        answer_account_statz(request, request.account);
      } else {
        answer_endpoint(request, *find_server_endpoint("CONNZ"), request.account);
      }
      return;
    }
    // $SYS.REQ.ACCOUNT.<acc>.<token>
    const std::string account(parts[3]);
    const std::string_view token = parts[4];
    if (token == "CONNZ") {
      answer_endpoint(request, *find_server_endpoint("CONNZ"), account);
    } else if (token == "SUBSZ") {
      if (account == "PING") return;  // nats-server skips it
      answer_endpoint(request, *find_server_endpoint("SUBSZ"), account);
    } else if (token == "LEAFZ") {
      answer_endpoint(request, *find_server_endpoint("LEAFZ"), account);
    } else if (token == "JSZ") {
      auto options = decode_json_options(request.payload, "JszEventOptions", jsz_options);
      if (!options.ok()) return reply_error(request, 400, options.error, false);
      if (filtered_out(server, options)) return;
      reply_error(request, 500, "jetstream not enabled", true);
    } else if (token == "INFO") {
      answer_account_info(request, account);
    } else if (token == "STATZ") {
      answer_account_statz(request, account == "PING" ? std::string() : account);
    }
  }

  void reply(const request_job& request, const std::string& body) {
    send(client_of(request.account), request.reply, body);
  }
  void reply_error(const request_job& request, int code, std::string_view text, bool null_data) {
    reply(request, error_response(server, ++seq, std::chrono::system_clock::now(), code, text, null_data));
  }

  void answer_statsz(const request_job& request, std::string_view struct_name) {
    // Without a reply subject, nats-server publishes on its statsz subject.
    const std::string target = request.reply.empty() ? "$SYS.SERVER." + server.id() + ".STATSZ" : request.reply;
    auto options = decode_json_options(request.payload, struct_name, filter_only);
    if (!options.ok()) {
      send(*system_client, target, error_response(server, ++seq, std::chrono::system_clock::now(), 400, options.error, false));
      return;
    }
    if (filtered_out(server, options)) return;
    send(*system_client, target, statsz_message(server, ++seq, std::chrono::system_clock::now()));
  }

  /// An endpoint's document; `account` (non-empty) scopes CONNZ, SUBSZ and
  /// LEAFZ to one account, as the account requests and imports do.
  void answer_endpoint(const request_job& request, const server_endpoint& endpoint, const std::string& account) {
    if (endpoint.function == nullptr) {
      answer_statsz(request, endpoint.struct_name);
      return;
    }
    auto options = decode_json_options(request.payload, endpoint.struct_name, endpoint.options);
    if (!options.ok()) return reply_error(request, 400, options.error, false);
    if (filtered_out(server, options)) return;
    auto query = to_query(options);
    if (!account.empty()) {
      const bool subsz_list = endpoint.token == "SUBSZ";  // always lists them, as nats-server
      std::erase_if(query, [subsz_list](const auto& p) { return p.first == "acc" || (subsz_list && p.first == "subs"); });
      query.emplace(query.begin(), "acc", account);
      if (subsz_list) query.emplace(query.begin(), "subs", "true");
    }
    const endpoint_context context{server, listener, requests, std::chrono::system_clock::now(),
                                   json_writer::layout::compact};
    const http_reply document = endpoint.function(context, query_params(std::move(query)));
    if (document.status != 200) {
      std::string text = document.body;
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      return reply_error(request, 500, text, true);
    }
    if (endpoint.token == "SUBSZ" && document.body.rfind("{\"server_id\"", 0) != 0) {
      // /subsz without a list is the statistics alone over HTTP; here it is
      // nats-server's whole Subsz (server_id, now, statistics, total, offset, limit).
      reply(request, data_response(server, ++seq, std::chrono::system_clock::now(),
                                   whole_subsz(document.body, context.now, options)));
      return;
    }
    reply(request, data_response(server, ++seq, std::chrono::system_clock::now(), document.body));
  }

  std::string whole_subsz(const std::string& statistics, std::chrono::system_clock::time_point now,
                          const decoded_options& options) {
    std::int64_t offset = 0, limit = 0;
    try {
      if (options.has("offset")) offset = std::stoll(options.get("offset"));
      if (options.has("limit")) limit = std::stoll(options.get("limit"));
    } catch (const std::exception&) {
    }
    if (offset < 0) offset = 0;
    if (limit <= 0) limit = 1024;
    json_writer head(json_writer::layout::compact);
    head.begin_object().member("server_id", server.id()).member("now", rfc3339_nano(now)).end_object();
    std::string text = head.take();
    text.pop_back();  // '}'
    text += ',';
    text.append(statistics, 1, statistics.size() - 2);  // the members, without the braces
    text += ",\"total\":0,\"offset\":" + std::to_string(offset) + ",\"limit\":" + std::to_string(limit) + "}";
    return text;
  }

  /// $SYS.REQ.ACCOUNT.<acc>.INFO: /accountz's account_detail alone.
  void answer_account_info(const request_job& request, const std::string& account) {
    auto options = decode_json_options(request.payload, "AccInfoEventOptions", filter_only);
    if (!options.ok()) return reply_error(request, 400, options.error, false);
    if (filtered_out(server, options)) return;
    const endpoint_context context{server, listener, requests, std::chrono::system_clock::now(),
                                   json_writer::layout::compact};
    const http_reply document = accountz(context, query_params({{"acc", account}}));
    static constexpr std::string_view marker = "\"account_detail\":";
    const auto at = document.body.find(marker);
    if (document.status != 200 || at == std::string::npos) {
      return reply_error(request, 500, "account not found", true);
    }
    std::string_view detail = std::string_view(document.body).substr(at + marker.size());
    detail.remove_suffix(1);  // the document's closing brace
    reply(request, data_response(server, ++seq, std::chrono::system_clock::now(), detail));
  }

  /// $SYS.REQ.ACCOUNT.<acc|PING>.STATZ: the accounts' AccountStat, those
  /// with connections (or all asked with include_unused); no answer when
  /// none qualifies. `only` (non-empty) restricts it to one account.
  void answer_account_statz(const request_job& request, const std::string& only) {
    auto options = decode_json_options(request.payload, "AccountStatzEventOptions", statz_options);
    if (!options.ok()) return reply_error(request, 400, options.error, false);
    if (filtered_out(server, options)) return;
    const bool include_unused = options.get("include_unused") == "true";
    std::vector<std::string> wanted;
    if (!only.empty()) {
      wanted.push_back(only);
    } else if (!options.get("accounts").empty()) {
      for (auto name : tokens_of_list(options.get("accounts"))) wanted.push_back(name);
    } else {
      for (const auto* a : server.accounts()) wanted.push_back(a->name);
    }
    std::vector<account_stat> stats;
    for (const auto& name : wanted) {
      bool known = false;
      for (const auto* a : server.accounts()) known = known || a->name == name;
      if (!known) continue;
      account_stat stat = stat_of(name);
      if (stat.conns == 0 && !include_unused) continue;
      stats.push_back(std::move(stat));
    }
    if (stats.empty()) return;
    const auto now = std::chrono::system_clock::now();
    json_writer out(json_writer::layout::compact);
    out.begin_object();
    out.member("server_id", server.id());
    out.member("now", rfc3339_nano(now));
    out.key("account_statz").begin_array();
    for (const auto& stat : stats) {
      out.begin_object();
      write_account_stat(out, stat);
      out.end_object();
    }
    out.end_array();
    out.end_object();
    reply(request, data_response(server, ++seq, now, out.text()));
  }

  static std::vector<std::string> tokens_of_list(const std::string& joined) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= joined.size()) {
      const auto comma = joined.find(',', start);
      out.push_back(joined.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  }
};

system_service::system_service(broker::server& server, const listener_facts& listener, const request_counts& requests)
    : core_(std::make_shared<core>(server, listener, requests)) {}

system_service::~system_service() { stop(); }

void system_service::start() {
  broker::server& server = core_->server;
  const std::string& system_account = server.system_account_name();
  if (system_account.empty() || core_->system_client) return;

  // Connections already there (an embedding application may start us late).
  for (const auto& info : server.connections().open_info()) {
    if (!info.in_process && !info.identity.account.empty()) ++core_->live_connections[info.identity.account];
  }
  const std::weak_ptr<core> weak = core_;
  auto handler = [weak](core::scope where, std::string account) {
    return [weak, where, account = std::move(account)](const broker::message& m) {
      if (auto c = weak.lock()) c->enqueue(core::request_job{where, account, m.subject, m.reply, m.payload});
    };
  };
  auto internal_client = [&server](const std::string& account) {
    broker::connection_options options;
    options.name = "system";
    options.account = account;
    options.internal = true;
    options.inline_callbacks = true;  // the callbacks only queue work
    options.echo = false;
    return server.connect(options);
  };

  core_->system_client = internal_client(system_account);
  auto& sys = *core_->system_client;
  sys.subscribe("$SYS.REQ.SERVER.PING", handler(core::scope::server, system_account));
  for (const auto& endpoint : server_endpoints) {
    const std::string token(endpoint.token);
    sys.subscribe("$SYS.REQ.SERVER.PING." + token, handler(core::scope::server, system_account));
    sys.subscribe("$SYS.REQ.SERVER." + server.id() + "." + token, handler(core::scope::server, system_account));
  }
  for (const char* token : account_endpoints) {
    sys.subscribe(std::string("$SYS.REQ.ACCOUNT.*.") + token, handler(core::scope::account, system_account));
  }
  // nats-server imports these three into every other account, answered
  // there for that account.
  for (const auto* account : server.accounts()) {
    if (account->name == system_account) continue;
    auto client = internal_client(account->name);
    for (const char* subject :
         {"$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.STATZ"}) {
      client->subscribe(subject, handler(core::scope::imported, account->name));
    }
    core_->account_clients.emplace(account->name, std::move(client));
  }

  // The worker starts last: requests that arrive meanwhile wait in the
  // queue, and the clients above are fixed before it reads them.
  core_->worker = std::thread([c = core_.get()] { c->run(); });
  server.set_connection_observer([weak](const broker::connection_event& event) {
    if (auto c = weak.lock()) c->enqueue(event);
  });
}

void system_service::stop() {
  if (!core_->system_client || core_->stopped) return;
  core_->stopped = true;
  core_->server.set_connection_observer({});
  {
    std::lock_guard lock(core_->mutex);
    core_->stopping = true;
  }
  core_->wake.notify_one();
  if (core_->worker.joinable()) core_->worker.join();
  core_->system_client->close();
  for (auto& [name, client] : core_->account_clients) client->close();
}

}  // namespace courier::monitor
