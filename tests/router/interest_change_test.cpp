#include "broker/router/interest_change.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/router/sublist.hpp"
#include "tests/router/router_test_support.hpp"

namespace courier::broker {
namespace {

using test::make_sub;

/// A change as the hook saw it, copied out of the call.
struct seen {
  interest_change::kind what;
  std::string subject;
  std::string queue;
  bool edge;
  bool operator==(const seen&) const = default;
};

std::ostream& operator<<(std::ostream& out, const seen& s) {
  return out << (s.what == interest_change::kind::added ? "+" : "-") << s.subject << "/" << s.queue
             << (s.edge ? " edge" : "");
}

constexpr auto added = interest_change::kind::added;
constexpr auto removed = interest_change::kind::removed;

/// Each test runs with the router's cache on and off: the hook must not
/// depend on it.
class InterestHookTest : public ::testing::TestWithParam<bool> {
 protected:
  InterestHookTest() : router_(GetParam()) {
    router_.set_interest_hook([this](const interest_change& change) {
      changes_.push_back({change.what, std::string(change.subject()), std::string(change.queue()), change.edge});
    });
  }

  sublist router_;
  std::vector<seen> changes_;
};

INSTANTIATE_TEST_SUITE_P(Cache, InterestHookTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Cached" : "Uncached"; });

TEST_P(InterestHookTest, FirstAndLastOnTheSameSubject) {
  auto a = make_sub("foo.bar");
  auto b = make_sub("foo.bar");
  router_.insert(a);
  router_.insert(b);
  router_.remove(a);
  router_.remove(b);
  const std::vector<seen> expected{{added, "foo.bar", "", true},
                                   {added, "foo.bar", "", false},
                                   {removed, "foo.bar", "", false},
                                   {removed, "foo.bar", "", true}};
  EXPECT_EQ(changes_, expected);
}

TEST_P(InterestHookTest, QueueGroupsAndPlainCountApart) {
  auto plain = make_sub("orders.*");
  auto q1 = make_sub("orders.*", "workers");
  auto q2 = make_sub("orders.*", "workers");
  auto other = make_sub("orders.*", "auditors");
  router_.insert(plain);
  router_.insert(q1);
  router_.insert(q2);
  router_.insert(other);
  router_.remove(q1);
  router_.remove(plain);
  router_.remove(q2);
  const std::vector<seen> expected{{added, "orders.*", "", true},
                                   {added, "orders.*", "workers", true},
                                   {added, "orders.*", "workers", false},
                                   {added, "orders.*", "auditors", true},
                                   {removed, "orders.*", "workers", false},
                                   {removed, "orders.*", "", true},
                                   {removed, "orders.*", "workers", true}};
  EXPECT_EQ(changes_, expected);
}

TEST_P(InterestHookTest, WildcardAndLiteralSubjectsAreDifferentInterest) {
  router_.insert(make_sub("a.>"));
  router_.insert(make_sub("a.b"));
  router_.insert(make_sub("a.*"));
  ASSERT_EQ(changes_.size(), 3u);
  for (const auto& change : changes_) EXPECT_TRUE(change.edge) << change;
}

TEST_P(InterestHookTest, NoOpChangesAreNotReported) {
  auto sub = make_sub("x");
  router_.insert(sub);
  router_.insert(sub);  // already there
  EXPECT_TRUE(router_.remove(sub));
  EXPECT_FALSE(router_.remove(sub));  // already gone
  sublist elsewhere(GetParam());
  auto foreign = make_sub("x");
  elsewhere.insert(foreign);
  EXPECT_FALSE(router_.remove(foreign));
  const std::vector<seen> expected{{added, "x", "", true}, {removed, "x", "", true}};
  EXPECT_EQ(changes_, expected);
}

TEST_P(InterestHookTest, BatchRemovalReportsEachSubscription) {
  std::vector<std::shared_ptr<subscription>> subs{make_sub("s.1"), make_sub("s.1"), make_sub("s.2", "q"),
                                                  make_sub("s.3")};
  for (const auto& sub : subs) router_.insert(sub);
  changes_.clear();
  subs.push_back(make_sub("never.inserted"));
  subs.push_back(nullptr);
  router_.remove_batch(subs);
  const std::vector<seen> expected{{removed, "s.1", "", false},
                                   {removed, "s.1", "", true},
                                   {removed, "s.2", "q", true},
                                   {removed, "s.3", "", true}};
  EXPECT_EQ(changes_, expected);
  EXPECT_EQ(router_.count(), 0u);
}

TEST_P(InterestHookTest, LargeBatchReportsEveryRemoval) {
  // Past the batch's cache scan limit the cache is emptied instead: the
  // hook still hears of every removal.
  std::vector<std::shared_ptr<subscription>> subs;
  for (int i = 0; i < 100; ++i) subs.push_back(make_sub("big." + std::to_string(i % 10)));
  for (const auto& sub : subs) router_.insert(sub);
  changes_.clear();
  router_.remove_batch(subs);
  ASSERT_EQ(changes_.size(), 100u);
  std::size_t edges = 0;
  for (const auto& change : changes_) edges += change.edge;
  EXPECT_EQ(edges, 10u);  // one last subscription per subject
}

TEST_P(InterestHookTest, RemovedHookHearsNothingMore) {
  router_.insert(make_sub("before"));
  router_.set_interest_hook({});
  router_.insert(make_sub("after"));
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].subject, "before");
}

TEST_P(InterestHookTest, ReplacedHookTakesOverAndTheOldOneIsReleased) {
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> watch = token;
  int calls = 0;
  router_.set_interest_hook([token = std::move(token), &calls](const interest_change&) { ++calls; });
  router_.insert(make_sub("one"));
  router_.set_interest_hook([&calls](const interest_change&) { calls += 10; });
  EXPECT_TRUE(watch.expired());  // what the old hook captured is gone
  router_.insert(make_sub("two"));
  EXPECT_EQ(calls, 11);
  EXPECT_TRUE(changes_.empty());
}

TEST_P(InterestHookTest, HookSeesTheChangeAlreadyMade) {
  // Called after the change: the count already includes it.
  std::vector<std::size_t> counts;
  router_.set_interest_hook([&](const interest_change&) { counts.push_back(router_.count()); });
  auto sub = make_sub("c");
  router_.insert(sub);
  router_.remove(sub);
  EXPECT_EQ(counts, (std::vector<std::size_t>{1, 0}));
}

}  // namespace
}  // namespace courier::broker
