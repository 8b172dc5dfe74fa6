// /subsz: the routers' statistics and, with subs=1, their subscriptions.
#include <algorithm>
#include <charconv>

#include "broker/server.hpp"
#include "monitor/endpoints.hpp"
#include "monitor/go_format.hpp"
#include "monitor/json_writer.hpp"
#include "protocol/subject.hpp"

namespace courier::monitor {

namespace {

struct listed_subscription {
  std::string account;
  std::uint64_t cid = 0;
  broker::subscription_info sub;
};

/// Statistics summed over the chosen routers, as nats-server sums its accounts'.
struct summed_stats {
  std::uint64_t subscriptions = 0, cache = 0, inserts = 0, removes = 0, matches = 0, hits = 0, max_fanout = 0;
  double fanout_total = 0;  // average fanout x cache entries, summed

  void add(const broker::sublist::statistics& s) {
    subscriptions += s.subscriptions;
    cache += s.cache_entries;
    inserts += s.inserts;
    removes += s.removes;
    matches += s.matches;
    hits += s.cache_hits;
    max_fanout = std::max<std::uint64_t>(max_fanout, s.max_fanout);
    fanout_total += s.average_fanout * static_cast<double>(s.cache_entries);
  }
  void write(json_writer& out) const {
    out.member("num_subscriptions", subscriptions);
    out.member("num_cache", cache);
    out.member("num_inserts", inserts);
    out.member("num_removes", removes);
    out.member("num_matches", matches);
    out.member("cache_hit_rate", matches == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(matches));
    out.member("max_fanout", max_fanout);
    out.member("avg_fanout", cache == 0 ? 0.0 : fanout_total / static_cast<double>(cache));
  }
};

}  // namespace

void write_sublist_stats(json_writer& out, const broker::sublist::statistics& stats) {
  summed_stats sum;
  sum.add(stats);
  sum.write(out);
}

void write_subscription_detail(json_writer& out, std::string_view account, const broker::subscription_info& sub,
                               std::uint64_t cid) {
  out.begin_object();
  if (!account.empty()) out.member("account", account);
  out.member("subject", sub.subject);
  if (!sub.queue.empty()) out.member("qgroup", sub.queue);
  out.member("sid", sub.sid);
  out.member("msgs", sub.msgs);
  if (sub.max != 0) out.member("max", sub.max);
  out.member("cid", cid);
  out.end_object();
}

http_reply subsz(const endpoint_context& context, const query_params& query) {
  auto subs = decode_bool(query, "subs");
  if (!subs.error.empty()) return http_reply::bad_request(subs.error);
  std::int64_t offset = 0, limit = 1024;
  if (auto error = decode_int(query, "offset", offset)) return http_reply::bad_request(*error);
  if (auto error = decode_int(query, "limit", limit)) return http_reply::bad_request(*error);
  if (offset < 0) offset = 0;
  if (limit <= 0) limit = 1024;
  const std::string test = query.get("test");
  if (!test.empty() && !protocol::is_valid_literal_subject(test)) {
    return http_reply::bad_request("invalid test subject, must be valid publish subject: " + test);
  }
  const std::string account = query.get("acc");

  summed_stats stats;
  std::vector<listed_subscription> listed;
  for (const auto* a : context.server.accounts()) {
    if (!account.empty() && a->name != account) continue;
    stats.add(a->router.stats());
    if (!subs.value) continue;
    a->router.for_each([&](const broker::subscription& sub) {
      if (!test.empty() && !protocol::subject_matches(sub.subject, test)) return;
      listed.push_back({a->name, sub.client_id,
                        {sub.subject, sub.queue, sub.sid, sub.delivered.load(std::memory_order_relaxed),
                         sub.max_messages.load(std::memory_order_relaxed)}});
    });
  }

  std::sort(listed.begin(), listed.end(), [](const listed_subscription& a, const listed_subscription& b) {
    return std::tie(a.account, a.cid, a.sub.subject, a.sub.sid) < std::tie(b.account, b.cid, b.sub.subject, b.sub.sid);
  });
  const std::size_t first = std::min(listed.size(), static_cast<std::size_t>(offset));
  const std::size_t last = std::min(listed.size(), first + static_cast<std::size_t>(limit));
  // nats-server leaves the list part out (server_id, now, total, offset,
  // limit, subscriptions_list) when the page is empty: no subscription
  // matches test=, an unknown acc=, an offset past the end.
  const bool with_list = subs.value && first < last;

  json_writer out(context.layout);
  out.begin_object();
  if (with_list) {
    out.member("server_id", context.server.id());
    out.member("now", rfc3339_nano(context.now));
  }
  stats.write(out);
  if (with_list) {
    out.member("total", static_cast<std::uint64_t>(listed.size()));
    out.member("offset", offset);
    out.member("limit", limit);
    out.key("subscriptions_list").begin_array();
    for (std::size_t i = first; i < last; ++i) {
      write_subscription_detail(out, listed[i].account, listed[i].sub, listed[i].cid);
    }
    out.end_array();
  }
  out.end_object();
  return {200, "application/json", out.take()};
}

}  // namespace courier::monitor
