#include "broker/router/sublist.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/router/router_test_support.hpp"

namespace courier::broker {
namespace {

using test::make_sub;

// ---------------------------------------------------------------------------
// A brute-force reference: every subscription in a list, each checked
// token by token. Written independently of the router's own matcher.

// Token by token without allocating: the random tests below call this for
// every live subscription on every lookup (about 3 million times per run),
// and under the sanitizers a split into strings per call cost minutes.
bool brute_matches(std::string_view pattern, std::string_view literal) {
  for (;;) {
    const std::size_t p_end = pattern.find('.');
    const std::size_t s_end = literal.find('.');
    const std::string_view p = pattern.substr(0, p_end);
    if (p == ">") return true;  // the literal still has at least this token
    if (p != "*" && p != literal.substr(0, s_end)) return false;
    const bool p_last = p_end == std::string_view::npos;
    const bool s_last = s_end == std::string_view::npos;
    if (p_last || s_last) return p_last && s_last;
    pattern.remove_prefix(p_end + 1);
    literal.remove_prefix(s_end + 1);
  }
}

/// A result in comparable form: plain set, and queue name -> member set.
struct canonical {
  std::multiset<const subscription*> plain;
  std::map<std::string, std::multiset<const subscription*>> queues;
  bool operator==(const canonical&) const = default;
};

canonical canonicalize(const match_result& result) {
  canonical out;
  for (const auto& sub : result.plain) {
    EXPECT_TRUE(sub->queue.empty());
    out.plain.insert(sub.get());
  }
  for (const auto& group : result.queues) {
    EXPECT_FALSE(group.empty());
    const std::string& name = group.front()->queue;
    // Each group appears once and holds only its own name.
    EXPECT_EQ(out.queues.count(name), 0u) << "queue group " << name << " split";
    for (const auto& sub : group) {
      EXPECT_EQ(sub->queue, name);
      out.queues[name].insert(sub.get());
    }
  }
  return out;
}

canonical brute_match(const std::vector<std::shared_ptr<subscription>>& subs,
                      const std::string& literal) {
  canonical out;
  for (const auto& sub : subs) {
    if (!brute_matches(sub->subject, literal)) continue;
    if (sub->queue.empty()) {
      out.plain.insert(sub.get());
    } else {
      out.queues[sub->queue].insert(sub.get());
    }
  }
  return out;
}

TEST(BruteForce, MatchesSelfCheck) {
  EXPECT_TRUE(brute_matches("a.b", "a.b"));
  EXPECT_FALSE(brute_matches("a.b", "a.b.c"));
  EXPECT_FALSE(brute_matches("a.b.c", "a.b"));
  EXPECT_TRUE(brute_matches("a.*", "a.x"));
  EXPECT_FALSE(brute_matches("a.*", "a"));
  EXPECT_TRUE(brute_matches("a.>", "a.x.y"));
  EXPECT_FALSE(brute_matches("a.>", "a"));
  EXPECT_TRUE(brute_matches(">", "a"));
  EXPECT_TRUE(brute_matches("*.b.>", "a.b.c.d"));
  EXPECT_FALSE(brute_matches("*.b.>", "a.b"));
  EXPECT_FALSE(brute_matches("a.b", "a.bc"));
  EXPECT_FALSE(brute_matches("a.bc", "a.b"));
  EXPECT_TRUE(brute_matches("*", "abc"));
  EXPECT_FALSE(brute_matches("*", "a.b"));
}

// ---------------------------------------------------------------------------
// Every behaviour with and without the cache.

class SublistTest : public ::testing::TestWithParam<bool> {
 protected:
  sublist list_{GetParam()};

  canonical match(const std::string& subject) {
    auto result = list_.match(subject);
    EXPECT_NE(result, nullptr);
    return canonicalize(*result);
  }
};

INSTANTIATE_TEST_SUITE_P(Cache, SublistTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Cached" : "NoCache"; });

TEST_P(SublistTest, Literal) {
  auto sub = make_sub("foo.bar");
  list_.insert(sub);
  EXPECT_EQ(list_.count(), 1u);
  auto result = list_.match("foo.bar");
  ASSERT_EQ(result->plain.size(), 1u);
  EXPECT_EQ(result->plain[0], sub);
  EXPECT_TRUE(result->queues.empty());
  EXPECT_TRUE(list_.match("foo")->empty());
  EXPECT_TRUE(list_.match("foo.bar.baz")->empty());
  EXPECT_TRUE(list_.match("foo.baz")->empty());
  EXPECT_TRUE(list_.match("bar.foo")->empty());
}

TEST_P(SublistTest, SameSubjectManySubscriptions) {
  std::vector<std::shared_ptr<subscription>> subs;
  for (int i = 0; i < 100; ++i) {
    subs.push_back(make_sub("foo"));
    list_.insert(subs.back());
  }
  EXPECT_EQ(list_.count(), 100u);
  EXPECT_EQ(list_.match("foo")->plain.size(), 100u);
  // Remove every other one (exercises the identity index and swap-removal).
  for (int i = 0; i < 100; i += 2) EXPECT_TRUE(list_.remove(subs[i]));
  std::vector<std::shared_ptr<subscription>> left;
  for (int i = 1; i < 100; i += 2) left.push_back(subs[i]);
  EXPECT_EQ(match("foo"), brute_match(left, "foo"));
  for (int i = 0; i < 100; i += 2) EXPECT_FALSE(list_.remove(subs[i]));
  EXPECT_EQ(list_.count(), 50u);
}

TEST_P(SublistTest, StarMatchesExactlyOneToken) {
  auto sub = make_sub("foo.*");
  list_.insert(sub);
  EXPECT_EQ(list_.match("foo.bar")->plain.size(), 1u);
  EXPECT_EQ(list_.match("foo.baz")->plain.size(), 1u);
  EXPECT_TRUE(list_.match("foo")->empty());
  EXPECT_TRUE(list_.match("foo.bar.baz")->empty());
  EXPECT_TRUE(list_.match("bar.foo")->empty());

  auto middle = make_sub("a.*.c");
  list_.insert(middle);
  EXPECT_EQ(list_.match("a.b.c")->plain.size(), 1u);
  EXPECT_TRUE(list_.match("a.b")->empty());
  EXPECT_TRUE(list_.match("a.b.c.d")->empty());
  EXPECT_TRUE(list_.match("a.b.d")->empty());

  auto all = make_sub("*");
  list_.insert(all);
  EXPECT_EQ(list_.match("anything")->plain.size(), 1u);
  EXPECT_TRUE(list_.match("two.tokens")->plain.size() == 0u);
}

TEST_P(SublistTest, FullWildcardMatchesOneOrMoreTokens) {
  auto sub = make_sub("foo.>");
  list_.insert(sub);
  EXPECT_EQ(list_.match("foo.bar")->plain.size(), 1u);
  EXPECT_EQ(list_.match("foo.bar.baz.qux")->plain.size(), 1u);
  EXPECT_TRUE(list_.match("foo")->empty());
  EXPECT_TRUE(list_.match("bar.foo")->empty());

  auto root = make_sub(">");
  list_.insert(root);
  EXPECT_EQ(list_.match("x")->plain.size(), 1u);
  EXPECT_EQ(list_.match("foo")->plain.size(), 1u);
  EXPECT_EQ(list_.match("foo.bar")->plain.size(), 2u);
}

TEST_P(SublistTest, OverlappingWildcardsAllMatch) {
  std::vector<std::shared_ptr<subscription>> subs = {
      make_sub("a.b.c"), make_sub("a.*.c"), make_sub("a.>"), make_sub("*.b.*"),
      make_sub(">"),     make_sub("*.*.*"), make_sub("a.b.>"), make_sub("a.b.c.>")};
  for (const auto& sub : subs) list_.insert(sub);
  EXPECT_EQ(list_.match("a.b.c")->plain.size(), 7u);
  EXPECT_EQ(match("a.b.c"), brute_match(subs, "a.b.c"));
  EXPECT_EQ(match("a.b.c.d"), brute_match(subs, "a.b.c.d"));
  EXPECT_EQ(match("a"), brute_match(subs, "a"));
}

TEST_P(SublistTest, TokensThatLookLikeWildcardsAreLiteral) {
  auto sub = make_sub("foo.*bar");
  list_.insert(sub);
  EXPECT_TRUE(list_.match("foo.xbar")->empty());
  EXPECT_EQ(list_.match("foo.*bar")->plain.size(), 1u);
  auto gt = make_sub("foo.>>");
  list_.insert(gt);
  EXPECT_TRUE(list_.match("foo.x.y")->empty());
}

TEST_P(SublistTest, QueuesAreGroupedByName) {
  auto plain = make_sub("foo.bar");
  auto q1a = make_sub("foo.bar", "q1");
  auto q1b = make_sub("foo.bar", "q1");
  auto q1wild = make_sub("foo.*", "q1");  // same group name on another node
  auto q2 = make_sub("foo.>", "q2");
  for (const auto& sub : {plain, q1a, q1b, q1wild, q2}) list_.insert(sub);

  auto result = list_.match("foo.bar");
  ASSERT_EQ(result->plain.size(), 1u);
  EXPECT_EQ(result->plain[0], plain);
  ASSERT_EQ(result->queues.size(), 2u);
  canonical got = canonicalize(*result);
  EXPECT_EQ(got.queues["q1"], (std::multiset<const subscription*>{q1a.get(), q1b.get(),
                                                                   q1wild.get()}));
  EXPECT_EQ(got.queues["q2"], (std::multiset<const subscription*>{q2.get()}));

  auto other = list_.match("foo.baz");
  EXPECT_TRUE(other->plain.empty());
  EXPECT_EQ(other->queues.size(), 2u);

  EXPECT_TRUE(list_.remove(q1a));
  EXPECT_TRUE(list_.remove(q1b));
  EXPECT_TRUE(list_.remove(q1wild));
  result = list_.match("foo.bar");
  ASSERT_EQ(result->queues.size(), 1u);
  EXPECT_EQ(result->queues[0].front(), q2);
}

TEST_P(SublistTest, RemoveByIdentity) {
  auto a = make_sub("foo");
  auto b = make_sub("foo");
  auto wrong_queue = make_sub("foo", "q");
  list_.insert(a);
  list_.insert(b);
  EXPECT_FALSE(list_.remove(wrong_queue));
  EXPECT_FALSE(list_.remove(make_sub("foo")));
  EXPECT_FALSE(list_.remove(make_sub("bar")));
  EXPECT_FALSE(list_.remove(nullptr));
  EXPECT_FALSE(a->closed.load());
  EXPECT_TRUE(list_.remove(a));
  EXPECT_TRUE(a->closed.load());
  EXPECT_FALSE(b->closed.load());
  EXPECT_FALSE(list_.remove(a));
  auto result = list_.match("foo");
  ASSERT_EQ(result->plain.size(), 1u);
  EXPECT_EQ(result->plain[0], b);
  EXPECT_EQ(list_.count(), 1u);
}

TEST_P(SublistTest, DuplicateInsertIsNoOp) {
  auto sub = make_sub("foo.bar", "q");
  list_.insert(sub);
  const auto generation = list_.generation();
  list_.insert(sub);
  EXPECT_EQ(list_.count(), 1u);
  EXPECT_EQ(list_.generation(), generation);
  auto result = list_.match("foo.bar");
  ASSERT_EQ(result->queues.size(), 1u);
  EXPECT_EQ(result->queues[0].size(), 1u);
  EXPECT_TRUE(list_.remove(sub));
  EXPECT_TRUE(list_.match("foo.bar")->empty());
}

TEST_P(SublistTest, PrunesEmptyNodes) {
  EXPECT_EQ(list_.node_count(), 0u);
  std::vector<std::shared_ptr<subscription>> subs = {
      make_sub("a.b.c.d"), make_sub("a.b"), make_sub("a.*.c"), make_sub("a.>"),
      make_sub("x.y.z", "q"), make_sub(">"), make_sub("*.*")};
  for (const auto& sub : subs) list_.insert(sub);
  EXPECT_GT(list_.node_count(), 0u);
  // a.b.c.d builds a, b, c, d; removing only it must leave a.b and a.*.c intact.
  ASSERT_TRUE(list_.remove(subs[0]));
  EXPECT_EQ(list_.match("a.b")->plain.size(), 4u);  // a.b, a.>, >, *.*
  EXPECT_TRUE(list_.match("a.b.c.d")->plain.size() == 2u);  // a.>, >
  for (std::size_t i = 1; i < subs.size(); ++i) ASSERT_TRUE(list_.remove(subs[i]));
  EXPECT_EQ(list_.node_count(), 0u);
  EXPECT_EQ(list_.count(), 0u);
  EXPECT_TRUE(list_.match("a.b")->empty());
}

TEST_P(SublistTest, NodeCountTracksStructure) {
  list_.insert(make_sub("a.b.c"));
  EXPECT_EQ(list_.node_count(), 3u);
  auto d = make_sub("a.b.d");
  list_.insert(d);
  EXPECT_EQ(list_.node_count(), 4u);
  list_.remove(d);
  EXPECT_EQ(list_.node_count(), 3u);
}

TEST_P(SublistTest, RemoveRefusesASubscriptionAnotherRouterHolds) {
  sublist other(GetParam());
  auto sub = make_sub("a.b");
  other.insert(sub);
  list_.insert(make_sub("a.b"));
  EXPECT_FALSE(list_.remove(sub));
  EXPECT_FALSE(sub->closed.load());
  EXPECT_EQ(list_.count(), 1u);
  EXPECT_EQ(other.match("a.b")->plain.size(), 1u);
  EXPECT_TRUE(other.remove(sub));
  EXPECT_FALSE(other.remove(sub));
  EXPECT_TRUE(other.match("a.b")->empty());
  // Removed, it may go into another router.
  list_.insert(sub);
  EXPECT_EQ(list_.match("a.b")->plain.size(), 2u);
  EXPECT_TRUE(list_.remove(sub));
}

// Removals leave empty nodes to be pruned in groups; until then an insert can
// bring one back into use, and nothing may be pruned from under it.
TEST_P(SublistTest, NodesWaitingToBePrunedComeBackIntoUse) {
  std::vector<std::shared_ptr<subscription>> live;
  for (int i = 0; i < 200; ++i) {
    live.push_back(make_sub("p." + std::to_string(i % 70) + ".q." + std::to_string(i)));
    list_.insert(live.back());
  }
  auto wild = make_sub("p.*.q.>");
  list_.insert(wild);
  live.push_back(wild);
  std::mt19937 rng(7);
  for (int round = 0; round < 600; ++round) {
    const std::size_t at = rng() % live.size();
    auto sub = live[at];
    ASSERT_TRUE(list_.remove(sub)) << sub->subject;
    live.erase(live.begin() + static_cast<std::ptrdiff_t>(at));
    if (round % 3 == 0) {
      // The same subject again (its node may be waiting to be pruned), or
      // the same subscription object.
      auto again = round % 2 ? make_sub(sub->subject) : sub;
      list_.insert(again);
      live.push_back(again);
    }
    if (round % 25 == 0) {
      for (int i = 0; i < 70; i += 9) {
        const std::string subject = "p." + std::to_string(i) + ".q." + std::to_string(i + 70);
        ASSERT_EQ(match(subject), brute_match(live, subject)) << subject;
      }
    }
    if (live.empty()) break;
  }
  for (const auto& sub : live) {
    ASSERT_EQ(list_.match(sub->subject)->plain.size(),
              brute_match(live, sub->subject).plain.size()) << sub->subject;
  }
  for (const auto& sub : live) ASSERT_TRUE(list_.remove(sub));
  EXPECT_EQ(list_.count(), 0u);
  EXPECT_EQ(list_.node_count(), 0u);
  EXPECT_TRUE(list_.match("p.1.q.71")->empty());
}

TEST_P(SublistTest, RemoveBatch) {
  std::vector<std::shared_ptr<subscription>> kept, dropped;
  for (int i = 0; i < 50; ++i) {
    auto sub = make_sub("s." + std::to_string(i % 7), i % 3 ? "" : "q");
    list_.insert(sub);
    (i % 2 ? kept : dropped).push_back(sub);
  }
  auto wild = make_sub("s.*");
  list_.insert(wild);
  dropped.push_back(wild);
  for (int i = 0; i < 7; ++i) list_.match("s." + std::to_string(i));  // fill the cache
  dropped.push_back(make_sub("never.inserted"));
  dropped.push_back(nullptr);
  list_.remove_batch(dropped);
  EXPECT_EQ(list_.count(), kept.size());
  for (int i = 0; i < 7; ++i) {
    const std::string subject = "s." + std::to_string(i);
    EXPECT_EQ(match(subject), brute_match(kept, subject)) << subject;
  }
  EXPECT_TRUE(wild->closed.load());
  list_.remove_batch(kept);
  EXPECT_EQ(list_.count(), 0u);
  EXPECT_EQ(list_.node_count(), 0u);
}

TEST_P(SublistTest, SmallBatchKeepsUnrelatedCacheEntries) {
  auto a = make_sub("a");
  auto b = make_sub("b");
  list_.insert(a);
  list_.insert(b);
  list_.match("a");
  list_.match("b");
  list_.remove_batch({a});
  EXPECT_TRUE(list_.match("a")->empty());
  EXPECT_EQ(list_.match("b")->plain.size(), 1u);
  if (GetParam()) {
    EXPECT_EQ(list_.cache_count(), 2u);
  }
}

TEST_P(SublistTest, HasInterest) {
  EXPECT_FALSE(list_.has_interest("foo.bar"));
  auto sub = make_sub("foo.*", "q");
  list_.insert(sub);
  EXPECT_TRUE(list_.has_interest("foo.bar"));
  EXPECT_FALSE(list_.has_interest("foo"));
  EXPECT_FALSE(list_.has_interest("foo.bar.baz"));
  list_.match("foo.bar");  // cached now, when enabled
  EXPECT_TRUE(list_.has_interest("foo.bar"));
  list_.remove(sub);
  EXPECT_FALSE(list_.has_interest("foo.bar"));
  // A node that exists only as a path to deeper subjects is no interest.
  auto deep = make_sub("foo.bar.baz");
  list_.insert(deep);
  EXPECT_FALSE(list_.has_interest("foo.bar"));
  EXPECT_TRUE(list_.has_interest("foo.bar.baz"));
}

TEST_P(SublistTest, GenerationMovesOnEveryChange) {
  const auto g0 = list_.generation();
  auto sub = make_sub("foo");
  list_.insert(sub);
  const auto g1 = list_.generation();
  EXPECT_GT(g1, g0);
  list_.match("foo");
  EXPECT_EQ(list_.generation(), g1);
  EXPECT_FALSE(list_.remove(make_sub("foo")));
  EXPECT_EQ(list_.generation(), g1);
  list_.remove(sub);
  EXPECT_GT(list_.generation(), g1);
}

TEST_P(SublistTest, CachedResultsFollowInsertsAndRemoves) {
  auto first = make_sub("foo.bar");
  list_.insert(first);
  auto before = list_.match("foo.bar");
  ASSERT_EQ(before->plain.size(), 1u);
  if (GetParam()) {
    EXPECT_EQ(list_.cache_count(), 1u);
    EXPECT_EQ(list_.match("foo.bar"), before) << "a hit returns the cached object";
  } else {
    EXPECT_EQ(list_.cache_count(), 0u);
  }

  // Literal, wildcard and queue inserts all reach the cached entry...
  auto literal = make_sub("foo.bar");
  auto star = make_sub("*.bar");
  auto full = make_sub("foo.>", "q");
  auto unrelated = make_sub("foo.baz");
  for (const auto& sub : {literal, star, full, unrelated}) list_.insert(sub);
  std::vector<std::shared_ptr<subscription>> all = {first, literal, star, full, unrelated};
  EXPECT_EQ(match("foo.bar"), brute_match(all, "foo.bar"));
  // ...while a result already handed out never changes.
  EXPECT_EQ(before->plain.size(), 1u);
  EXPECT_TRUE(before->queues.empty());

  // Removes too, wildcard ones included.
  list_.remove(star);
  list_.remove(full);
  all = {first, literal, unrelated};
  EXPECT_EQ(match("foo.bar"), brute_match(all, "foo.bar"));
  list_.remove(first);
  list_.remove(literal);
  EXPECT_TRUE(list_.match("foo.bar")->empty());
  // An empty answer is cached too and must also learn of new interest.
  list_.insert(star);
  EXPECT_EQ(list_.match("foo.bar")->plain.size(), 1u);
}

TEST_P(SublistTest, CacheIsBounded) {
  list_.insert(make_sub("foo.*"));
  for (int i = 0; i < 5000; ++i) {
    EXPECT_EQ(list_.match("foo." + std::to_string(i))->plain.size(), 1u);
    ASSERT_LE(list_.cache_count(), sublist::cache_max);
  }
  if (GetParam()) {
    EXPECT_GT(list_.cache_count(), 0u);
  } else {
    EXPECT_EQ(list_.cache_count(), 0u);
  }
}

TEST_P(SublistTest, DeepSubjects) {
  // Deeper than the tokenizer's inline capacity.
  std::string subject = "t0";
  for (int i = 1; i < 100; ++i) subject += ".t" + std::to_string(i);
  auto sub = make_sub(subject);
  auto wild = make_sub("t0.>");
  list_.insert(sub);
  list_.insert(wild);
  EXPECT_EQ(list_.match(subject)->plain.size(), 2u);
  EXPECT_EQ(list_.match(subject + ".x")->plain.size(), 1u);
  EXPECT_TRUE(list_.remove(sub));
  EXPECT_TRUE(list_.remove(wild));
  EXPECT_EQ(list_.node_count(), 0u);
}

TEST_P(SublistTest, EmptyTokensMatchNothing) {
  // nats-server's Match returns nothing for these, even with `*` and `>`.
  list_.insert(make_sub(">"));
  list_.insert(make_sub("a.*.b"));
  list_.insert(make_sub("*"));
  for (const char* subject : {"", ".", "a..b", ".a", "a.", "a.b.", ".."}) {
    EXPECT_TRUE(list_.match(subject)->empty()) << '"' << subject << '"';
    EXPECT_FALSE(list_.has_interest(subject)) << '"' << subject << '"';
  }
  EXPECT_EQ(list_.match("a.x.b")->plain.size(), 2u);
}

TEST_P(SublistTest, MissDoesNotAllocateAResult) {
  auto first = list_.match("nobody.here");
  auto second = list_.match("nobody.there");
  EXPECT_TRUE(first->empty());
  EXPECT_EQ(first, second) << "misses share one empty result";
}

// ---------------------------------------------------------------------------
// Randomised comparison against the brute-force matcher.

/// Subjects from a small alphabet, so that wildcards and literals collide.
struct subject_source {
  std::mt19937_64 rng;
  explicit subject_source(std::uint64_t seed) : rng(seed) {}

  std::string literal() {
    static const char* const tokens[] = {"a", "b", "c", "d"};
    const int depth = 1 + static_cast<int>(rng() % 4);
    std::string out;
    for (int i = 0; i < depth; ++i) {
      if (i) out += '.';
      out += tokens[rng() % 4];
    }
    return out;
  }

  std::string pattern() {
    static const char* const tokens[] = {"a", "b", "c", "d", "*", "*"};
    const int depth = 1 + static_cast<int>(rng() % 4);
    std::string out;
    for (int i = 0; i < depth; ++i) {
      if (i) out += '.';
      if (i + 1 == depth && rng() % 6 == 0) {
        out += '>';
      } else {
        out += tokens[rng() % 6];
      }
    }
    return out;
  }

  std::string queue() {
    static const char* const names[] = {"", "", "", "q1", "q2"};
    return names[rng() % 5];
  }
};

/// How a test reads the router: match() (a shared_ptr), an L1 cache, or a
/// read scope (a borrowed reference).
enum class read_via { owned, l1, scope };

void random_against_brute_force(bool cache_enabled, read_via via, std::uint64_t seed) {
  sublist list(cache_enabled);
  sublist_l1_cache l1(64);
  subject_source source(seed);
  std::vector<std::shared_ptr<subscription>> live;
  for (int step = 0; step < 20000; ++step) {
    // Grows to about 300 subscriptions, then hovers there.
    const auto op = source.rng() % 10;
    if ((op < 4 && live.size() < 300) || live.empty()) {
      auto sub = make_sub(source.pattern(), source.queue());
      list.insert(sub);
      live.push_back(sub);
    } else if (op < 5) {
      const std::size_t at = source.rng() % live.size();
      ASSERT_TRUE(list.remove(live[at]));
      live.erase(live.begin() + at);
    } else if (op == 5 && live.size() > 4) {
      std::vector<std::shared_ptr<subscription>> batch;
      const std::size_t n = 1 + source.rng() % 3;
      for (std::size_t i = 0; i < n && !live.empty(); ++i) {
        const std::size_t at = source.rng() % live.size();
        batch.push_back(live[at]);
        live.erase(live.begin() + at);
      }
      list.remove_batch(batch);
    } else {
      const std::string subject = source.literal();
      const canonical expected = brute_match(live, subject);
      if (via == read_via::scope) {
        sublist_read_scope scope;
        ASSERT_EQ(canonicalize(scope.match(list, subject)), expected)
            << "step " << step << " subject " << subject;
      } else {
        const auto& result = via == read_via::l1 ? l1.match(list, subject) : list.match(subject);
        ASSERT_EQ(canonicalize(*result), expected) << "step " << step << " subject " << subject;
      }
      ASSERT_EQ(list.has_interest(subject), !expected.plain.empty() || !expected.queues.empty());
    }
    ASSERT_EQ(list.count(), live.size());
  }
  list.remove_batch(live);
  EXPECT_EQ(list.count(), 0u);
  EXPECT_EQ(list.node_count(), 0u);
}

/// Seeds per random test: 1 unless COURIER_RANDOM_SEEDS asks for more (each
/// seed is 20000 steps; under the sanitizers one takes several seconds).
/// Every test starts from its own seed, so the defaults cover four streams.
std::uint64_t random_seeds() {
  const char* env = std::getenv("COURIER_RANDOM_SEEDS");
  return env != nullptr ? std::max<std::uint64_t>(1, std::strtoull(env, nullptr, 10)) : 1;
}

void random_runs(bool cache_enabled, read_via via, std::uint64_t first_seed) {
  for (std::uint64_t i = 0; i < random_seeds(); ++i) {
    random_against_brute_force(cache_enabled, via, first_seed + 4 * i);
  }
}

TEST(SublistRandom, AgainstBruteForceCached) { random_runs(true, read_via::owned, 1); }

TEST(SublistRandom, AgainstBruteForceNoCache) { random_runs(false, read_via::owned, 2); }

TEST(SublistRandom, AgainstBruteForceThroughL1) {
  random_runs(true, read_via::l1, 3);
  random_runs(false, read_via::l1, 4);
}

TEST(SublistRandom, AgainstBruteForceThroughReadScope) {
  random_runs(true, read_via::scope, 4);
  random_runs(false, read_via::scope, 3);
}

// ---------------------------------------------------------------------------
// L1 cache

// A stream to one subject is answered from the last hit; other subjects in
// between, the table growing (its slots move) and changes to the router
// must not leave that shortcut pointing at a stale or moved entry.
TEST(SublistL1Cache, RepeatedSubjectAcrossGrowthAndChanges) {
  sublist list;
  sublist_l1_cache l1(512);
  auto a = make_sub("foo");
  list.insert(a);
  EXPECT_EQ(l1.match(list, "foo")->plain.size(), 1u);
  EXPECT_EQ(l1.match(list, "foo")->plain.size(), 1u);
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(l1.match(list, "s" + std::to_string(i))->empty());
  EXPECT_EQ(l1.match(list, "foo")->plain.size(), 1u);
  EXPECT_EQ(l1.match(list, "foo")->plain.size(), 1u);
  EXPECT_TRUE(l1.match(list, "s1")->empty());
  EXPECT_TRUE(l1.match(list, "s1")->empty());
  auto b = make_sub("s1");
  list.insert(b);
  EXPECT_EQ(l1.match(list, "s1")->plain.size(), 1u);
  EXPECT_EQ(l1.match(list, "foo")->plain.size(), 1u);
  list.remove(a);
  EXPECT_TRUE(l1.match(list, "foo")->empty());
  EXPECT_TRUE(l1.match(list, "foo")->empty());
  l1.clear();
  EXPECT_TRUE(l1.match(list, "foo")->empty());
  EXPECT_EQ(l1.match(list, "s1")->plain.size(), 1u);
}

TEST(SublistL1Cache, FollowsGeneration) {
  sublist list;
  sublist_l1_cache l1(4);
  auto a = make_sub("foo");
  list.insert(a);
  const auto* first = &l1.match(list, "foo");
  EXPECT_EQ((*first)->plain.size(), 1u);
  EXPECT_EQ(&l1.match(list, "foo"), first) << "hit returns the same entry";
  EXPECT_EQ(l1.size(), 1u);

  auto b = make_sub("*");
  list.insert(b);
  EXPECT_EQ(l1.match(list, "foo")->plain.size(), 2u);
  list.remove(a);
  EXPECT_EQ(l1.match(list, "foo")->plain.size(), 1u);

  for (int i = 0; i < 10; ++i) l1.match(list, "s" + std::to_string(i));
  EXPECT_LE(l1.size(), 4u);

  sublist other;
  EXPECT_TRUE(l1.match(other, "foo")->empty()) << "switching routers starts over";
  l1.clear();
  EXPECT_EQ(l1.size(), 0u);
}

TEST(SublistL1Cache, NewRouterAtTheSameAddressStartsOver) {
  std::optional<sublist> list;
  sublist_l1_cache l1;
  list.emplace();
  list->insert(make_sub("foo"));
  EXPECT_EQ(l1.match(*list, "foo")->plain.size(), 1u);
  const auto generation = list->generation();
  list.reset();
  list.emplace();  // same storage
  // Bring the new router to the same generation the old one had.
  std::vector<std::shared_ptr<subscription>> subs;
  while (list->generation() < generation) {
    subs.push_back(make_sub("bar"));
    list->insert(subs.back());
  }
  ASSERT_EQ(list->generation(), generation);
  EXPECT_TRUE(l1.match(*list, "foo")->empty());
}

// ---------------------------------------------------------------------------
// Concurrency: writers churn while matchers read; every result must be
// internally consistent, and the final state must equal the brute force.

void concurrent_churn(bool cache_enabled, read_via via) {
  sublist list(cache_enabled);
  constexpr int writers = 2;
  constexpr int matchers = 3;
  constexpr int writer_steps = 6000;
  std::atomic<int> writers_left{writers};
  // Everyone starts together, so that writes really overlap reads.
  std::atomic<int> started{0};
  auto start_together = [&started] {
    started.fetch_add(1);
    while (started.load() < writers + matchers) std::this_thread::yield();
  };
  std::vector<std::vector<std::shared_ptr<subscription>>> owned(writers);
  std::vector<std::thread> threads;

  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      subject_source source(100 + w);
      auto& mine = owned[w];
      start_together();
      for (int step = 0; step < writer_steps; ++step) {
        if (step % 64 == 0) std::this_thread::yield();  // let matchers in on 2 cores
        const auto op = source.rng() % 10;
        if (op < 5 || mine.empty()) {
          auto sub = make_sub(source.pattern(), source.queue());
          list.insert(sub);
          mine.push_back(sub);
        } else if (op < 9) {
          const std::size_t at = source.rng() % mine.size();
          EXPECT_TRUE(list.remove(mine[at]));
          mine.erase(mine.begin() + at);
        } else {
          const std::size_t n = std::min<std::size_t>(mine.size(), 3);
          std::vector<std::shared_ptr<subscription>> batch(mine.end() - n, mine.end());
          mine.resize(mine.size() - n);
          list.remove_batch(batch);
        }
      }
      writers_left.fetch_sub(1);
    });
  }
  std::atomic<long> checked{0};
  for (int m = 0; m < matchers; ++m) {
    threads.emplace_back([&, m] {
      subject_source source(200 + m);
      sublist_l1_cache l1(32);
      start_together();
      // Whatever the interleaving, every member must match the subject and
      // sit in the right group.
      auto check = [](const match_result& result, const std::string& subject) {
        for (const auto& sub : result.plain) {
          ASSERT_TRUE(brute_matches(sub->subject, subject));
          ASSERT_TRUE(sub->queue.empty());
        }
        for (const auto& group : result.queues) {
          ASSERT_FALSE(group.empty());
          for (const auto& sub : group) {
            ASSERT_TRUE(brute_matches(sub->subject, subject));
            ASSERT_EQ(sub->queue, group.front()->queue);
          }
        }
      };
      // Bounded: the trie lock (glibc's rwlock) prefers readers, so matchers
      // missing back to back on 2 cores could hold the writers off for long.
      constexpr long most = 200000;
      for (long mine = 0; (writers_left.load() > 0 && mine < most) || mine < 1000; ++mine) {
        const std::string subject = source.literal();
        if (via == read_via::scope) {
          // A borrowed result must survive the writers dropping and
          // reclaiming its cache entry while the scope is open (AddressSanitizer
          // reports it otherwise): look again after letting them run.
          sublist_read_scope scope;
          const match_result& result = scope.match(list, subject);
          check(result, subject);
          if (mine % 8 == 0) std::this_thread::yield();
          check(result, subject);
        } else {
          std::shared_ptr<const match_result> result =
              via == read_via::l1 ? l1.match(list, subject) : list.match(subject);
          check(*result, subject);
        }
        list.has_interest(subject);
        checked.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_GE(checked.load(), matchers * 1000);

  std::vector<std::shared_ptr<subscription>> live;
  for (const auto& mine : owned) live.insert(live.end(), mine.begin(), mine.end());
  EXPECT_EQ(list.count(), live.size());
  // Every literal subject of the alphabet, depth 1 to 4.
  std::vector<std::string> subjects = {""};
  std::vector<std::string> all;
  for (int depth = 1; depth <= 4; ++depth) {
    std::vector<std::string> longer;
    for (const auto& prefix : subjects) {
      for (const char* token : {"a", "b", "c", "d"}) {
        longer.push_back(prefix.empty() ? token : prefix + "." + token);
      }
    }
    all.insert(all.end(), longer.begin(), longer.end());
    subjects = std::move(longer);
  }
  sublist_l1_cache l1;
  for (const auto& subject : all) {
    const canonical expected = brute_match(live, subject);
    ASSERT_EQ(canonicalize(*list.match(subject)), expected) << subject;
    ASSERT_EQ(canonicalize(*l1.match(list, subject)), expected) << subject;
  }
  list.remove_batch(live);
  EXPECT_EQ(list.node_count(), 0u);
}

// The writer's own view: once insert/remove returns, every later match (and
// every L1 cache) must reflect it, however busy other threads keep the cache
// with results computed before the change.
TEST(SublistConcurrent, ChangesAreVisibleOnReturn) {
  sublist list(true);
  auto background = make_sub("a.*");
  list.insert(background);
  std::atomic<bool> stop{false};
  std::vector<std::thread> matchers;
  for (int m = 0; m < 2; ++m) {
    matchers.emplace_back([&] {
      sublist_l1_cache l1(8);
      while (!stop.load()) {
        list.match("a.b");
        l1.match(list, "a.b");
        list.has_interest("a.b");
      }
    });
  }
  sublist_l1_cache writer_l1(8);
  for (int round = 0; round < 3000; ++round) {
    auto literal = make_sub("a.b", round % 2 ? "q" : "");
    auto wild = make_sub(round % 3 ? "a.>" : "*.b");
    list.insert(literal);
    list.insert(wild);
    ASSERT_EQ(canonicalize(*list.match("a.b")), brute_match({background, literal, wild}, "a.b"))
        << "round " << round;
    ASSERT_EQ(canonicalize(*writer_l1.match(list, "a.b")),
              brute_match({background, literal, wild}, "a.b"));
    list.remove(round % 2 ? literal : wild);
    const auto remaining = round % 2 ? wild : literal;
    ASSERT_EQ(canonicalize(*list.match("a.b")), brute_match({background, remaining}, "a.b"));
    ASSERT_EQ(canonicalize(*writer_l1.match(list, "a.b")),
              brute_match({background, remaining}, "a.b"));
    list.remove_batch({remaining});
    ASSERT_EQ(canonicalize(*list.match("a.b")), brute_match({background}, "a.b"));
    ASSERT_EQ(canonicalize(*writer_l1.match(list, "a.b")), brute_match({background}, "a.b"));
    ASSERT_TRUE(list.has_interest("a.b"));
  }
  stop.store(true);
  for (auto& thread : matchers) thread.join();
}

// Forced interleavings, through the router's test hooks.

std::atomic<int> race_stage{0};

/// The first call while race_stage is 1 announces itself (2) and waits for the
/// test to finish its step (3).
void pause_once() {
  int armed = 1;
  if (!race_stage.compare_exchange_strong(armed, 2)) return;
  while (race_stage.load() != 3) std::this_thread::yield();
}

void wait_for_pause() {
  while (race_stage.load() != 2) std::this_thread::yield();
}

// A miss stores its result under the same shared lock as its walk, so a
// change waits for the store instead of slipping in between (which would
// leave a stale result cached).
TEST(SublistRace, ChangeWaitsForAMissToStoreItsResult) {
  for (bool remove : {false, true}) {
    sublist list(true);
    auto sub = make_sub("a.*");
    if (remove) list.insert(sub);
    race_stage = 1;
    detail::sublist_test_hooks::after_walk = &pause_once;
    std::thread matcher([&] { list.match("a.b"); });
    wait_for_pause();  // walked, not yet stored
    std::atomic<bool> changed{false};
    std::thread writer([&] {
      if (remove) {
        list.remove(sub);
      } else {
        list.insert(sub);
      }
      changed = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(changed.load()) << "the change ran between the walk and the store";
    race_stage = 3;
    matcher.join();
    writer.join();
    detail::sublist_test_hooks::after_walk = nullptr;
    EXPECT_EQ(list.match("a.b")->plain.size(), remove ? 0u : 1u) << "remove " << remove;
    EXPECT_EQ(list.has_interest("a.b"), !remove);
  }
}

TEST(SublistRace, L1CopyTakenMidChangeIsDropped) {
  for (int kind = 0; kind < 3; ++kind) {  // insert, remove, remove_batch
    sublist list(true);
    auto base = make_sub("a.b");
    auto sub = make_sub("a.*");
    list.insert(base);
    if (kind != 0) list.insert(sub);
    list.match("a.b");  // cached
    sublist_l1_cache l1;
    race_stage = 1;
    detail::sublist_test_hooks::before_cache_drop = &pause_once;
    std::thread writer([&] {
      if (kind == 0) {
        list.insert(sub);
      } else if (kind == 1) {
        list.remove(sub);
      } else {
        list.remove_batch({sub});
      }
    });
    wait_for_pause();
    // Mid-change: the trie has changed, the cached entry not yet; a cache hit
    // takes no lock, so the L1 copies the entry about to be dropped.
    l1.match(list, "a.b");
    race_stage = 3;
    writer.join();
    detail::sublist_test_hooks::before_cache_drop = nullptr;
    const std::size_t expected = kind == 0 ? 2 : 1;
    EXPECT_EQ(l1.match(list, "a.b")->plain.size(), expected) << "kind " << kind;
    EXPECT_EQ(list.match("a.b")->plain.size(), expected) << "kind " << kind;
  }
}

TEST(SublistConcurrent, ChurnWithCache) { concurrent_churn(true, read_via::owned); }
TEST(SublistConcurrent, ChurnWithoutCache) { concurrent_churn(false, read_via::owned); }
TEST(SublistConcurrent, ChurnThroughL1) { concurrent_churn(true, read_via::l1); }
TEST(SublistConcurrent, ChurnThroughReadScope) { concurrent_churn(true, read_via::scope); }

// A result borrowed through a read scope outlives the removal of everything
// in it, and is freed (releasing its subscriptions) once the scope closes.
TEST(SublistReadScope, BorrowedResultOutlivesRemovalUntilTheScopeCloses) {
  sublist list(true);
  auto sub = make_sub("a.b");
  std::weak_ptr<subscription> watch = sub;
  list.insert(sub);
  list.match("a.b");  // cached
  ASSERT_EQ(list.cache_count(), 1u);
  {
    sublist_read_scope scope;
    const match_result& result = scope.match(list, "a.b");
    ASSERT_EQ(result.plain.size(), 1u);
    list.remove(sub);  // drops the cached entry and tries to reclaim it
    sub.reset();
    EXPECT_EQ(list.cache_count(), 0u);
    // Still held: this scope may be reading it.
    ASSERT_FALSE(watch.expired());
    EXPECT_EQ(result.plain[0]->subject, "a.b");
    EXPECT_TRUE(result.plain[0]->closed.load());
  }
  epoch::reclaim();
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace courier::broker
