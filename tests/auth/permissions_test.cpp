#include "auth/permissions.hpp"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "auth/config_error.hpp"
#include "tests/json_support.hpp"

using namespace std::chrono_literals;
using courier::auth::config_error;
using courier::auth::parse_permissions;
using courier::auth::permission_cache;
using courier::auth::permissions;
using courier::auth::response_tracker;

namespace {

using courier::test::parse_json;

std::shared_ptr<const permissions> perms(const std::string& text) {
  return std::make_shared<const permissions>(parse_permissions(parse_json(text)));
}

std::string parse_error(const std::string& text) {
  try {
    permissions p(parse_permissions(parse_json(text)));
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(permissions_parse, forms_of_publish_and_subscribe) {
  auto spec = parse_permissions(parse_json(R"({"publish": "a.>", "subscribe": ["b", "c.*"]})"));
  ASSERT_TRUE(spec.publish && spec.publish->allow);
  EXPECT_EQ(*spec.publish->allow, std::vector<std::string>{"a.>"});
  ASSERT_TRUE(spec.subscribe && spec.subscribe->allow);
  EXPECT_EQ(spec.subscribe->allow->size(), 2u);
  EXPECT_FALSE(spec.response);

  spec = parse_permissions(parse_json(R"({"PUB": {"allow": ["x"], "deny": "x.y"}, "sub": {"deny": [">"]}})"));
  EXPECT_EQ(spec.publish->deny, std::vector<std::string>{"x.y"});
  EXPECT_FALSE(spec.subscribe->allow);  // deny only: no allow list
  EXPECT_EQ(spec.subscribe->deny, std::vector<std::string>{">"});

  // An empty {allow, deny} map is no permission at all.
  spec = parse_permissions(parse_json(R"({"publish": {}})"));
  EXPECT_FALSE(spec.publish);
}

TEST(permissions_parse, allow_responses_forms_and_defaults) {
  auto spec = parse_permissions(parse_json(R"({"allow_responses": true})"));
  ASSERT_TRUE(spec.response);
  EXPECT_EQ(spec.response->max_messages, 1);
  EXPECT_EQ(spec.response->expires, 2min);
  // It turns off the blanket publish allow.
  ASSERT_TRUE(spec.publish && spec.publish->allow);
  EXPECT_TRUE(spec.publish->allow->empty());

  spec = parse_permissions(parse_json(R"({"allow_responses": false})"));
  EXPECT_FALSE(spec.response);
  EXPECT_FALSE(spec.publish);

  spec = parse_permissions(parse_json(R"({"publish": {"deny": "x"}, "allow_responses": {"max": 5, "expires": "1m30s"}})"));
  EXPECT_EQ(spec.response->max_messages, 5);
  EXPECT_EQ(spec.response->expires, 90s);
  EXPECT_TRUE(spec.publish->allow && spec.publish->allow->empty());
  EXPECT_EQ(spec.publish->deny, std::vector<std::string>{"x"});

  // An explicit publish allow list is kept.
  spec = parse_permissions(parse_json(R"({"allow_responses": {"max": 0, "ttl": "0"}, "publish": ["ok"]})"));
  EXPECT_EQ(spec.response->max_messages, 1);  // 0 = default
  EXPECT_EQ(spec.response->expires, 2min);
  EXPECT_EQ(*spec.publish->allow, std::vector<std::string>{"ok"});

  spec = parse_permissions(parse_json(R"({"allow_responses": {"max": -1, "expires": "-1s"}})"));
  EXPECT_LT(spec.response->max_messages, 0);
  EXPECT_LT(spec.response->expires.count(), 0);
}

TEST(permissions_parse, errors_use_nats_server_texts) {
  EXPECT_EQ(parse_error(R"({"publish": "foo..bar"})"), R"(subject "foo..bar" is not a valid subject)");
  EXPECT_EQ(parse_error(R"({"subscribe": ["foo bar baz"]})"), R"(subject "foo bar baz" is not a valid subject)");
  EXPECT_EQ(parse_error(R"({"subscribe": ["foo. q"]})"), R"(subject "foo." is not a valid subject)");
  EXPECT_EQ(parse_error(R"({"publish": [1]})"), "Subject in permissions array cannot be cast to string");
  EXPECT_EQ(parse_error(R"({"publish": 5})"),
            "Expected subject permissions to be a subject, or array of subjects, got int64");
  EXPECT_EQ(parse_error(R"({"publish": {"allow": "a", "permit": "b"}})"),
            "Unknown field name \"permit\" parsing subject permissions, only 'allow' or 'deny' are permitted");
  EXPECT_EQ(parse_error(R"({"pubish": "a"})"), "Unknown field \"pubish\" parsing permissions");
  EXPECT_EQ(parse_error(R"({"allow_responses": "yes"})"),
            "error parsing response permissions, expected a boolean or a map");
  EXPECT_EQ(parse_error(R"({"allow_responses": {"expires": 5}})"), "error parsing expires, not a duration string");
  EXPECT_NE(parse_error(R"({"allow_responses": {"expires": "5 minutes"}})").find("error parsing expires"),
            std::string::npos);
  EXPECT_NE(parse_error(R"(["a"])").find("Expected permissions to be a map/struct"), std::string::npos);
  EXPECT_EQ(parse_error(R"({"publish": "a", "subscribe": {"allow": ["b q"], "deny": "c"}})"), "");
}

TEST(permissions_check, publish_allow_deny_and_wildcards) {
  auto p = perms(R"({"publish": {"allow": ["orders.>", "audit.*"], "deny": ["orders.secret.*", "audit.private"]}})");
  EXPECT_TRUE(p->can_publish("orders.new"));
  EXPECT_TRUE(p->can_publish("orders.eu.new"));
  EXPECT_FALSE(p->can_publish("orders"));
  EXPECT_FALSE(p->can_publish("orders.secret.x"));   // deny wins
  EXPECT_TRUE(p->can_publish("orders.secret"));      // deny needs the extra token
  EXPECT_TRUE(p->can_publish("audit.log"));
  EXPECT_FALSE(p->can_publish("audit.private"));
  EXPECT_FALSE(p->can_publish("audit.log.x"));
  EXPECT_FALSE(p->can_publish("other"));

  auto deny_only = perms(R"({"publish": {"deny": ">"}})");
  EXPECT_FALSE(deny_only->can_publish("anything"));
  auto empty_allow = perms(R"({"publish": []})");
  EXPECT_FALSE(empty_allow->can_publish("anything"));
  auto no_pub = perms(R"({"subscribe": "x"})");
  EXPECT_TRUE(no_pub->can_publish("anything"));
  EXPECT_FALSE(no_pub->restricts_publish());
}

TEST(permissions_check, subscribe_queue_scoping_as_nats_server_documents) {
  // client.go processSubEx:
  //   allow = ["foo"]           -> can subscribe or queue subscribe to foo using any queue
  //   allow = ["foo v1"]        -> can only queue subscribe to 'foo v1', no plain subs allowed.
  //   allow = ["foo", "foo v1"] -> can subscribe to 'foo' but can only queue subscribe to 'foo v1'
  auto any = perms(R"({"subscribe": ["foo"]})");
  EXPECT_TRUE(any->can_subscribe("foo"));
  EXPECT_TRUE(any->can_subscribe("foo", "q"));
  EXPECT_FALSE(any->can_subscribe("bar"));

  auto queue_only = perms(R"({"subscribe": ["foo v1"]})");
  EXPECT_FALSE(queue_only->can_subscribe("foo"));
  EXPECT_TRUE(queue_only->can_subscribe("foo", "v1"));
  EXPECT_FALSE(queue_only->can_subscribe("foo", "v2"));

  auto both = perms(R"({"subscribe": ["foo", "foo v1"]})");
  EXPECT_TRUE(both->can_subscribe("foo"));
  EXPECT_TRUE(both->can_subscribe("foo", "v1"));
  EXPECT_FALSE(both->can_subscribe("foo", "v2"));

  // Wildcard queue names in the entry match as patterns.
  auto wild_queue = perms(R"({"subscribe": ["foo v1.*"]})");
  EXPECT_TRUE(wild_queue->can_subscribe("foo", "v1.a"));
  EXPECT_FALSE(wild_queue->can_subscribe("foo", "v2.a"));

  // Deny scoped to a queue.
  auto deny_queue = perms(R"({"subscribe": {"deny": ["foo bad"]}})");
  EXPECT_TRUE(deny_queue->can_subscribe("foo"));
  EXPECT_TRUE(deny_queue->can_subscribe("foo", "good"));
  EXPECT_FALSE(deny_queue->can_subscribe("foo", "bad"));
}

TEST(permissions_check, subscribe_wildcards_on_both_sides) {
  auto p = perms(R"({"subscribe": {"allow": ["foo.*", "bar.>"], "deny": ["bar.secret.>"]}})");
  EXPECT_TRUE(p->can_subscribe("foo.x"));
  EXPECT_TRUE(p->can_subscribe("foo.*"));
  EXPECT_TRUE(p->can_subscribe("foo.>"));  // nats-server 2.9.10 accepts this (checked by hand)
  EXPECT_FALSE(p->can_subscribe("foo.bar.*"));
  EXPECT_FALSE(p->can_subscribe("foo"));
  EXPECT_TRUE(p->can_subscribe("bar.a.b"));
  EXPECT_FALSE(p->can_subscribe("bar.secret.x"));
  EXPECT_FALSE(p->can_subscribe("bar.secret.>"));
  EXPECT_TRUE(p->can_subscribe("bar.>"));  // broader than the deny: accepted, filtered at delivery
  EXPECT_FALSE(p->can_subscribe(">"));
}

TEST(permission_cache, wildcard_subscription_overlapping_deny_is_filtered_at_delivery) {
  permission_cache cache(perms(R"({"subscribe": {"allow": ">", "deny": ["*.bar", "audit.>"]}})"));
  ASSERT_TRUE(cache.filters_delivery());
  EXPECT_TRUE(cache.can_subscribe("foo.*"));
  EXPECT_TRUE(cache.can_subscribe(">"));
  EXPECT_FALSE(cache.can_subscribe("audit.x"));
  EXPECT_FALSE(cache.deliver_allowed("foo.bar", "foo.*"));
  EXPECT_TRUE(cache.deliver_allowed("foo.baz", "foo.*"));
  EXPECT_FALSE(cache.deliver_allowed("audit.login", ">"));
  EXPECT_TRUE(cache.deliver_allowed("orders.new", ">"));
  // Asked twice (the second answer comes from the cache).
  EXPECT_FALSE(cache.deliver_allowed("foo.bar", "foo.*"));
  EXPECT_TRUE(cache.deliver_allowed("foo.baz", "foo.*"));
  // Literal subscriptions were checked at SUB time.
  EXPECT_TRUE(cache.deliver_allowed("foo.baz", "foo.baz"));
}

TEST(permission_cache, allow_list_is_enforced_at_delivery_for_wildcard_subscriptions) {
  // allow foo.* accepts SUB foo.> (as nats-server does), but foo.a.b is not
  // a subject the user may subscribe to, so it is not delivered.
  permission_cache cache(perms(R"({"subscribe": ["foo.*", "jobs.* workers"]})"));
  ASSERT_TRUE(cache.can_subscribe("foo.>"));
  EXPECT_TRUE(cache.deliver_allowed("foo.a", "foo.>"));
  EXPECT_FALSE(cache.deliver_allowed("foo.a.b", "foo.>"));
  // Queue-scoped: delivery through the queue subscription only.
  ASSERT_TRUE(cache.can_subscribe("jobs.*", "workers"));
  EXPECT_TRUE(cache.deliver_allowed("jobs.1", "jobs.*", "workers"));
  EXPECT_FALSE(cache.deliver_allowed("jobs.1", "jobs.*", "others"));
}

TEST(permission_cache, unrestricted_users_pass_everything) {
  permission_cache none(nullptr);
  EXPECT_TRUE(none.can_publish("x"));
  EXPECT_TRUE(none.can_subscribe(">", "q"));
  EXPECT_FALSE(none.filters_delivery());
  EXPECT_TRUE(none.deliver_allowed("a.b", ">"));
  EXPECT_FALSE(none.tracks_replies());
  none.on_delivered_reply("_INBOX.x");  // no-op, no crash
}

TEST(permission_cache, publish_decisions_are_cached_and_bounded) {
  permission_cache cache(perms(R"({"publish": {"allow": "ok.>", "deny": "ok.no"}})"));
  for (int i = 0; i < 1000; ++i) {
    std::string s = "ok." + std::to_string(i);
    EXPECT_TRUE(cache.can_publish(s));
    EXPECT_TRUE(cache.can_publish(s));  // cached answer agrees
    EXPECT_LE(cache.publish_cache_size(), permission_cache::max_entries);
  }
  EXPECT_FALSE(cache.can_publish("ok.no"));
  EXPECT_FALSE(cache.can_publish("ok.no"));
  EXPECT_FALSE(cache.can_publish("nope"));
  EXPECT_GT(cache.publish_cache_size(), 0u);
}

TEST(permission_cache, full_publish_cache_drops_prune_count_entries) {
  permission_cache cache(perms(R"({"publish": "ok.>"})"));
  for (std::size_t i = 0; i < permission_cache::max_entries; ++i) cache.can_publish("ok." + std::to_string(i));
  EXPECT_EQ(cache.publish_cache_size(), permission_cache::max_entries);
  cache.can_publish("ok.one-more");
  EXPECT_EQ(cache.publish_cache_size(), permission_cache::max_entries - permission_cache::prune_count + 1);
  // Evicted or kept, every answer stays right.
  for (std::size_t i = 0; i < permission_cache::max_entries; ++i) EXPECT_TRUE(cache.can_publish("ok." + std::to_string(i)));
  EXPECT_FALSE(cache.can_publish("no"));
}

TEST(permission_cache, allow_responses_default_one_reply_within_two_minutes) {
  permission_cache cache(perms(R"({"subscribe": "svc.>", "allow_responses": true})"));
  ASSERT_TRUE(cache.tracks_replies());
  auto t0 = permission_cache::clock::now();
  EXPECT_FALSE(cache.can_publish("_INBOX.abc", t0));  // never received
  cache.on_delivered_reply("_INBOX.abc", t0);
  EXPECT_FALSE(cache.can_publish("_INBOX.other", t0));
  EXPECT_TRUE(cache.can_publish("_INBOX.abc", t0 + 1s));
  EXPECT_FALSE(cache.can_publish("_INBOX.abc", t0 + 2s));  // one response only

  cache.on_delivered_reply("_INBOX.late", t0);
  EXPECT_FALSE(cache.can_publish("_INBOX.late", t0 + 2min + 1s));  // expired
  EXPECT_FALSE(cache.can_publish("svc.x", t0));                     // blanket allow is off
}

TEST(permission_cache, allow_responses_max_and_expires) {
  permission_cache cache(perms(R"({"publish": "pub.>", "allow_responses": {"max": 3, "expires": "10s"}})"));
  auto t0 = permission_cache::clock::now();
  EXPECT_TRUE(cache.can_publish("pub.a", t0));  // the allow list still applies
  cache.on_delivered_reply("r.1", t0);
  EXPECT_TRUE(cache.can_publish("r.1", t0));
  EXPECT_TRUE(cache.can_publish("r.1", t0 + 1s));
  EXPECT_TRUE(cache.can_publish("r.1", t0 + 9s));
  EXPECT_FALSE(cache.can_publish("r.1", t0 + 9s));
  cache.on_delivered_reply("r.2", t0);
  EXPECT_TRUE(cache.can_publish("r.2", t0 + 10s));
  EXPECT_FALSE(cache.can_publish("r.2", t0 + 11s));
  // A new delivery with the same reply renews the allowance.
  cache.on_delivered_reply("r.1", t0 + 20s);
  EXPECT_TRUE(cache.can_publish("r.1", t0 + 21s));
}

TEST(permission_cache, allow_responses_unlimited) {
  permission_cache cache(perms(R"({"allow_responses": {"max": -1, "expires": "-1s"}})"));
  auto t0 = permission_cache::clock::now();
  cache.on_delivered_reply("r", t0);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(cache.can_publish("r", t0 + std::chrono::hours(i)));
}

TEST(response_tracker, prunes_used_and_expired_entries_past_the_limit) {
  response_tracker tracker({1, 10s});
  auto t0 = response_tracker::clock::now();
  for (std::size_t i = 0; i < response_tracker::prune_threshold; ++i) tracker.on_delivered("old." + std::to_string(i), t0);
  EXPECT_EQ(tracker.size(), response_tracker::prune_threshold);
  tracker.on_delivered("fresh", t0 + 11s);  // crosses the limit: the expired ones go
  EXPECT_EQ(tracker.size(), 1u);
  EXPECT_TRUE(tracker.try_respond("fresh", t0 + 12s));
}

TEST(permission_cache, reset_applies_new_permissions) {
  permission_cache cache(perms(R"({"publish": "a"})"));
  EXPECT_TRUE(cache.can_publish("a"));
  EXPECT_FALSE(cache.can_publish("b"));
  cache.reset(perms(R"({"publish": "b"})"));
  EXPECT_FALSE(cache.can_publish("a"));
  EXPECT_TRUE(cache.can_publish("b"));
  cache.reset(nullptr);
  EXPECT_TRUE(cache.can_publish("a"));
}

TEST(permission_cache, delivery_checks_from_many_threads) {
  permission_cache cache(perms(R"({"subscribe": {"allow": ">", "deny": "x.*.secret"}, "allow_responses": true})"));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string id = std::to_string((i * 7 + t) % 300);
        if (cache.deliver_allowed("x." + id + ".secret", "x.>")) ++wrong;
        if (!cache.deliver_allowed("x." + id + ".public", "x.>")) ++wrong;
        cache.on_delivered_reply("_INBOX." + id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(cache.can_publish("_INBOX.5"));
}

TEST(permissions, subjects_with_empty_tokens_match_no_entry) {
  // Checked against nats-server 2.9.10: its Sublist.Match finds nothing for
  // "a..b", so an allow list refuses it and a deny list lets it through
  // (the SUB is then refused as an invalid subject).
  auto allow = perms(R"({"publish": {"allow": ["a.>"]}, "subscribe": {"allow": ["a.>"]}})");
  EXPECT_FALSE(allow->can_publish("a..b"));
  EXPECT_FALSE(allow->can_subscribe("a..b"));
  EXPECT_TRUE(allow->can_publish("a.b"));
  auto deny = perms(R"({"publish": {"deny": ["a.>"]}, "subscribe": {"deny": ["a.>"]}})");
  EXPECT_TRUE(deny->can_publish("a..b"));
  EXPECT_TRUE(deny->can_subscribe("a..b"));
  EXPECT_FALSE(deny->can_publish("a.b"));
}

TEST(permissions, one_compiled_set_serves_many_connections_at_once) {
  // The lists' router cache is shared by every connection of a user: checks
  // from many threads, through separate per-connection caches, agree.
  auto shared = perms(R"({"publish": {"allow": ["svc.>", "_INBOX.>"], "deny": "svc.admin.>"},
                          "subscribe": {"allow": ["svc.*", "jobs.* workers"], "deny": "svc.secret"}})");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      permission_cache connection(shared);
      for (int i = 0; i < 1500; ++i) {
        const std::string id = std::to_string((i * 13 + t) % 2000);  // past both caches' bounds
        if (!connection.can_publish("svc." + id)) ++wrong;
        if (connection.can_publish("svc.admin." + id)) ++wrong;
        if (connection.can_publish("other." + id)) ++wrong;
        if (!connection.deliver_allowed("svc." + id, "svc.*")) ++wrong;
        if (connection.deliver_allowed("svc.secret", "svc.*")) ++wrong;
        if (!connection.deliver_allowed("jobs." + id, "jobs.*", "workers")) ++wrong;
        if (connection.deliver_allowed("jobs." + id, "jobs.*", "others")) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(permission_errors, err_line_frames_like_the_protocol_encoder) {
  using courier::auth::err_line;
  EXPECT_EQ(err_line("Authorization Violation"), "-ERR 'Authorization Violation'\r\n");
  EXPECT_EQ(err_line(""), "-ERR ''\r\n");
}

TEST(permission_errors, texts_match_nats_server) {
  using namespace courier::auth;
  EXPECT_EQ(publish_violation("foo.bar"), R"(Permissions Violation for Publish to "foo.bar")");
  EXPECT_EQ(subscribe_violation("foo.*"), R"(Permissions Violation for Subscription to "foo.*")");
  EXPECT_EQ(subscribe_violation("foo", "q1"), R"(Permissions Violation for Subscription to "foo" using queue "q1")");
  EXPECT_EQ(reply_violation("$GNR.x"), R"(Permissions Violation for Publish with Reply of "$GNR.x")");
  EXPECT_EQ(err_line(publish_violation("a")), "-ERR 'Permissions Violation for Publish to \"a\"'\r\n");
  EXPECT_EQ(publish_violation_log("User \"bob\"", "a"), R"(Publish Violation - User "bob", Subject "a")");
  EXPECT_EQ(subscribe_violation_log("User \"bob\"", "a", "", "7"),
            R"(Subscription Violation - User "bob", Subject "a", SID 7)");
  EXPECT_EQ(subscribe_violation_log("User \"bob\"", "a", "q", "7"),
            R"(Subscription Violation - User "bob", Subject "a", Queue: "q", SID 7)");
  // Go %q escaping.
  EXPECT_EQ(go_quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(go_quote(std::string("x\x01y", 3)), R"("x\x01y")");
  EXPECT_EQ(go_quote("\xC3\xA9t\xC3\xA9"), "\"\xC3\xA9t\xC3\xA9\"");
  EXPECT_EQ(go_quote("\xff"), R"("\xff")");
}
