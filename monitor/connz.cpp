// /connz: the live and recently closed connections, with nats-server
// 2.9.10's query options (sort, offset, limit, subs, auth, state, cid, acc,
// user, mqtt_client), errors and field order.
#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "broker/connection_registry.hpp"
#include "broker/server.hpp"
#include "monitor/endpoints.hpp"
#include "monitor/go_format.hpp"
#include "monitor/json_writer.hpp"

namespace courier::monitor {

namespace {

using broker::connection_info;

enum class state_filter { open, closed, any };

/// nats-server's default and the cap on what one page may list.
constexpr std::int64_t default_limit = 1024;

using subscriptions_by_client = std::unordered_map<std::uint64_t, std::vector<broker::subscription_info>>;

subscriptions_by_client collect_subscriptions(broker::server& server) {
  subscriptions_by_client out;
  for (const auto* account : server.accounts()) {
    account->router.for_each([&out](const broker::subscription& sub) {
      out[sub.client_id].push_back({sub.subject, sub.queue, sub.sid, sub.delivered.load(std::memory_order_relaxed),
                                    sub.max_messages.load(std::memory_order_relaxed)});
    });
  }
  // The router's order is the trie's; list them as the client made them.
  for (auto& [cid, subs] : out) {
    std::sort(subs.begin(), subs.end(), [](const broker::subscription_info& a, const broker::subscription_info& b) {
      if (a.sid.size() != b.sid.size()) return a.sid.size() < b.sid.size();
      return a.sid < b.sid;
    });
  }
  return out;
}

std::optional<std::string> parse_cid(const query_params& query, std::uint64_t& out) {
  const std::string text = query.get("cid");
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"" + text +
           (ec == std::errc::result_out_of_range ? "\": value out of range" : "\": invalid syntax");
  }
  out = value;
  return std::nullopt;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return text;
}

constexpr std::string_view sort_options[] = {"cid",      "start",      "subs",     "pending",    "msgs_to",
                                             "msgs_from", "bytes_to",  "bytes_from", "last",     "idle",
                                             "uptime",   "stop",       "reason"};

/// Sorts a page's candidates as nats-server's sort options do; ties by cid.
void sort_connections(std::vector<const connection_info*>& list, std::string_view by,
                      std::chrono::system_clock::time_point now) {
  auto end_of = [now](const connection_info& c) { return c.reason ? c.stop : now; };
  auto less = [&](const connection_info* a, const connection_info* b) -> bool {
    auto descending = [&](auto x, auto y) { return x != y ? x > y : a->cid < b->cid; };
    auto ascending = [&](auto x, auto y) { return x != y ? x < y : a->cid < b->cid; };
    if (by == "start") return ascending(a->start, b->start);
    if (by == "subs") return descending(a->subscriptions, b->subscriptions);
    if (by == "pending") return descending(a->pending_bytes, b->pending_bytes);
    if (by == "msgs_to") return descending(a->msgs_out, b->msgs_out);
    if (by == "msgs_from") return descending(a->msgs_in, b->msgs_in);
    if (by == "bytes_to") return descending(a->bytes_out, b->bytes_out);
    if (by == "bytes_from") return descending(a->bytes_in, b->bytes_in);
    if (by == "last") return descending(a->last_activity, b->last_activity);
    // nats-server 2.9.10 sorts "idle" by the time from start to the last
    // activity, longest first, and "uptime" shortest first (newest
    // connection first), whatever the option names suggest.
    if (by == "idle") return descending(a->last_activity - a->start, b->last_activity - b->start);
    if (by == "uptime") return ascending(end_of(*a) - a->start, end_of(*b) - b->start);
    if (by == "stop") return descending(a->stop, b->stop);
    if (by == "reason") {
      const std::string_view ra = a->reason ? broker::to_string(*a->reason) : "";
      const std::string_view rb = b->reason ? broker::to_string(*b->reason) : "";
      return ascending(ra, rb);
    }
    return a->cid < b->cid;
  };
  std::sort(list.begin(), list.end(), less);
}

enum class subs_detail { none, subjects, detail };

void write_connection(json_writer& out, const connection_info& c, std::chrono::system_clock::time_point now,
                      bool with_auth, subs_detail subs, const subscriptions_by_client& all_subs) {
  const auto end = c.reason ? c.stop : now;
  out.begin_object();
  out.member("cid", c.cid);
  out.member("kind", "Client");
  out.member("type", broker::to_string(c.type));
  out.member("ip", c.remote_ip);
  out.member("port", static_cast<std::int64_t>(c.remote_port));
  out.member("start", rfc3339_nano(c.start));
  out.member("last_activity", rfc3339_nano(c.last_activity));
  if (c.reason) {
    out.member("stop", rfc3339_nano(c.stop));
    out.member("reason", broker::to_string(*c.reason));
  }
  // nats-server keeps RTT to the microsecond.
  const auto rtt = c.rtt >= std::chrono::microseconds(1)
                       ? std::chrono::duration_cast<std::chrono::microseconds>(c.rtt)
                       : std::chrono::nanoseconds(c.rtt);
  out.member("rtt", go_duration(rtt));
  out.member("uptime", uptime_text(end - c.start));
  out.member("idle", uptime_text(end - c.last_activity));
  out.member("pending_bytes", c.pending_bytes);
  out.member("in_msgs", c.msgs_in);
  out.member("out_msgs", c.msgs_out);
  out.member("in_bytes", c.bytes_in);
  out.member("out_bytes", c.bytes_out);
  out.member("subscriptions", static_cast<std::uint64_t>(c.subscriptions));
  if (!c.identity.name.empty()) out.member("name", c.identity.name);
  if (!c.identity.lang.empty()) out.member("lang", c.identity.lang);
  if (!c.identity.version.empty()) out.member("version", c.identity.version);
  if (!c.tls_version.empty()) out.member("tls_version", c.tls_version);
  if (!c.tls_cipher_suite.empty()) out.member("tls_cipher_suite", c.tls_cipher_suite);
  if (with_auth) {
    if (!c.identity.user.empty()) out.member("authorized_user", c.identity.user);
    // nats-server names the account only when it is not the global one.
    if (!c.identity.account.empty() && c.identity.account != "$G") out.member("account", c.identity.account);
  }
  // A live connection's subscriptions come from the routers; a closed one
  // kept its own.
  const std::vector<broker::subscription_info>* listed = nullptr;
  if (c.reason) {
    listed = &c.closed_subscriptions;
  } else if (auto it = all_subs.find(c.cid); it != all_subs.end()) {
    listed = &it->second;
  }
  if (subs != subs_detail::none && listed && !listed->empty()) {
    if (subs == subs_detail::subjects) {
      out.key("subscriptions_list").begin_array();
      for (const auto& sub : *listed) out.value(sub.subject);
      out.end_array();
    } else {
      out.key("subscriptions_list_detail").begin_array();
      // nats-server names the account in a closed connection's list only.
      const std::string_view account =
          !c.reason ? std::string_view() : c.identity.account.empty() ? std::string_view("$G") : c.identity.account;
      for (const auto& sub : *listed) write_subscription_detail(out, account, sub, c.cid);
      out.end_array();
    }
  }
  out.end_object();
}

}  // namespace

http_reply connz(const endpoint_context& context, const query_params& query) {
  // Query decoding, in nats-server's order and words.
  std::string sort_by = query.get("sort");
  if (sort_by.empty()) sort_by = "cid";
  if (std::find(std::begin(sort_options), std::end(sort_options), sort_by) == std::end(sort_options)) {
    return http_reply::bad_request("invalid sorting option: " + sort_by);
  }
  subs_detail subs = subs_detail::none;
  if (query.get("subs") == "detail") {
    subs = subs_detail::detail;
  } else {
    auto decoded = decode_bool(query, "subs");
    if (!decoded.error.empty()) return http_reply::bad_request(decoded.error);
    if (decoded.value) subs = subs_detail::subjects;
  }
  auto auth = decode_bool(query, "auth");
  if (!auth.error.empty()) return http_reply::bad_request(auth.error);
  std::int64_t offset = 0, limit = default_limit;
  if (auto error = decode_int(query, "offset", offset)) return http_reply::bad_request(*error);
  if (auto error = decode_int(query, "limit", limit)) return http_reply::bad_request(*error);
  std::uint64_t cid = 0;
  if (auto error = parse_cid(query, cid)) return http_reply::bad_request(*error);
  state_filter state = state_filter::open;
  if (!query.get("state").empty()) {  // state= is the default, open
    const std::string text = query.get("state");
    const std::string name = lower(text);
    if (name == "open") {
      state = state_filter::open;
    } else if (name == "closed") {
      state = state_filter::closed;
    } else if (name == "any" || name == "all") {
      state = state_filter::any;
    } else {
      return http_reply::bad_request("Error decoding state for " + text);
    }
  }
  if ((sort_by == "stop" || sort_by == "reason") && state != state_filter::closed) {
    return http_reply::bad_request("sort by " + sort_by + " only valid on closed connections");
  }
  const std::string account = query.get("acc");
  const std::string user = query.get("user");
  const std::string mqtt_client = query.get("mqtt_client");
  if (offset < 0) offset = 0;
  if (limit <= 0) limit = default_limit;

  broker::server& server = context.server;
  json_writer out(context.layout);
  out.begin_object();
  if (!account.empty()) {
    bool known = false;
    for (const auto* a : server.accounts()) known = known || a->name == account;
    if (!known) {
      // nats-server answers an unknown account with an empty document.
      out.member("server_id", "");
      out.member("now", rfc3339_nano(context.now));
      out.member("num_connections", 0);
      out.member("total", 0);
      out.member("offset", 0);
      out.member("limit", default_limit);
      out.key("connections").null();
      out.end_object();
      return {200, "application/json", out.take()};
    }
  }

  std::vector<connection_info> open, closed;
  if (state != state_filter::closed || cid != 0) open = server.connections().open_info();
  if (state != state_filter::open || cid != 0) closed = server.connections().closed_info();
  std::vector<const connection_info*> candidates;
  auto consider = [&](const std::vector<connection_info>& list) {
    for (const auto& c : list) {
      if (!account.empty() && c.identity.account != account) continue;
      // nats-server keeps no account name for a closed connection of the
      // global account ("account" is left out for $G), so acc=$G never
      // matches one.
      if (c.reason && account == "$G") continue;
      candidates.push_back(&c);
    }
  };
  std::size_t total = 0;
  if (cid != 0) {
    // One connection, live or closed, whatever the state asked; the total
    // is still that of the state asked (as nats-server reports it).
    total = state == state_filter::open ? open.size()
            : state == state_filter::closed ? closed.size()
                                            : open.size() + closed.size();
    for (const auto* list : {&open, &closed}) {
      for (const auto& c : *list) {
        if (c.cid == cid && candidates.empty() && (account.empty() || c.identity.account == account)) {
          candidates.push_back(&c);
        }
      }
    }
    limit = 1;
  } else {
    if (state != state_filter::closed) consider(open);
    if (state != state_filter::open) consider(closed);
    total = candidates.size();
  }
  if (!user.empty() || !mqtt_client.empty()) {
    candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                    [&](const connection_info* c) {
                                      // No MQTT clients in Courier: a client id matches none.
                                      return !mqtt_client.empty() || c->identity.user != user;
                                    }),
                     candidates.end());
  }
  sort_connections(candidates, sort_by, context.now);

  subscriptions_by_client all_subs;
  if (subs != subs_detail::none) all_subs = collect_subscriptions(server);
  const std::size_t first = std::min(candidates.size(), static_cast<std::size_t>(offset));
  const std::size_t last = std::min(candidates.size(), first + static_cast<std::size_t>(limit));

  out.member("server_id", server.id());
  out.member("now", rfc3339_nano(context.now));
  out.member("num_connections", static_cast<std::uint64_t>(last - first));
  out.member("total", static_cast<std::uint64_t>(total));
  out.member("offset", offset);
  out.member("limit", limit);
  out.key("connections").begin_array();
  for (std::size_t i = first; i < last; ++i) {
    write_connection(out, *candidates[i], context.now, auth.value, subs, all_subs);
  }
  out.end_array();
  out.end_object();
  return {200, "application/json", out.take()};
}

}  // namespace courier::monitor
