#include "auth/subject_pattern_set.hpp"

#include <algorithm>

#include <gtest/gtest.h>

using courier::auth::subject_pattern_set;

namespace {

bool matches(std::string_view pattern, std::string_view subject) {
  subject_pattern_set set;
  set.insert(pattern);
  return set.matches_plain(subject);
}

}  // namespace

TEST(subject_pattern_set, literal_subjects_against_patterns) {
  struct row {
    const char* pattern;
    const char* subject;
    bool expected;
  } rows[] = {
      {"foo", "foo", true},           {"foo", "foo.bar", false},     {"foo.bar", "foo", false},
      {"foo.*", "foo.bar", true},     {"foo.*", "foo", false},       {"foo.*", "foo.bar.baz", false},
      {"foo.>", "foo.bar", true},     {"foo.>", "foo.bar.baz", true}, {"foo.>", "foo", false},
      {">", "foo", true},             {">", "a.b.c", true},          {"*", "foo", true},
      {"*", "foo.bar", false},        {"*.bar", "foo.bar", true},    {"*.bar", "foo.baz", false},
      {"a.*.c", "a.b.c", true},       {"a.*.c", "a.b.d", false},     {"a.*.>", "a.b.c.d", true},
      {"a.*.>", "a.b", false},        {"foo", "fo", false},          {"foo", "fooo", false},
  };
  for (const auto& r : rows) EXPECT_EQ(matches(r.pattern, r.subject), r.expected) << r.pattern << " vs " << r.subject;
}

TEST(subject_pattern_set, wildcard_subjects_are_matched_token_by_token) {
  // nats-server's rule (verified against nats-server 2.9.10): the
  // subscription's `*` and `>` are literal tokens for the permission lists.
  EXPECT_TRUE(matches("foo.*", "foo.*"));
  EXPECT_TRUE(matches("foo.*", "foo.>"));  // quirk: allow foo.* accepts SUB foo.>
  EXPECT_TRUE(matches("foo.>", "foo.*"));
  EXPECT_TRUE(matches("foo.>", "foo.>"));
  EXPECT_TRUE(matches(">", "*"));
  EXPECT_FALSE(matches("foo.bar", "foo.*"));  // a narrower entry does not cover a wildcard
  EXPECT_FALSE(matches("*.bar", "foo.*"));
  EXPECT_FALSE(matches("foo.bar", "foo.>"));
}

TEST(subject_pattern_set, queues_and_plain_entries_are_reported_apart) {
  subject_pattern_set set;
  set.insert("foo", "v1");
  set.insert("foo.*", "v2");
  set.insert(">");
  set.insert("bar");
  EXPECT_EQ(set.size(), 4u);
  auto r = set.match("foo", "v1");
  EXPECT_TRUE(r.plain);  // from ">"
  EXPECT_TRUE(r.queue_scoped);
  EXPECT_TRUE(r.queue_matched);
  r = set.match("foo", "v2");
  EXPECT_TRUE(r.queue_scoped);
  EXPECT_FALSE(r.queue_matched);  // v2 is scoped to foo.*, not foo
  r = set.match("foo.x", "v2");
  EXPECT_TRUE(r.queue_scoped);
  EXPECT_TRUE(r.queue_matched);
  r = set.match("foo.x");
  EXPECT_TRUE(r.queue_scoped);
  EXPECT_FALSE(r.queue_matched);  // no queue asked about
  r = set.match("bar", "v1");
  EXPECT_TRUE(r.plain);
  EXPECT_FALSE(r.queue_scoped);

  subject_pattern_set queue_only;
  queue_only.insert("foo", "v1");
  EXPECT_FALSE(queue_only.matches_plain("foo"));
  EXPECT_FALSE(queue_only.match("foo").plain);
  EXPECT_TRUE(queue_only.match("foo").queue_scoped);
  EXPECT_FALSE(subject_pattern_set().match("foo", "v1").queue_scoped);
}

TEST(subject_pattern_set, queue_entries_with_wildcards_cover_queue_names) {
  // client.go queueMatches: the entry's queue as a pattern over the name.
  subject_pattern_set set;
  set.insert("jobs.>", "workers.*");
  EXPECT_TRUE(set.match("jobs.a", "workers.eu").queue_matched);
  EXPECT_FALSE(set.match("jobs.a", "workers").queue_matched);
  EXPECT_FALSE(set.match("jobs.a", "workers.eu.1").queue_matched);
  EXPECT_FALSE(set.match("jobs.a", "auditors").queue_matched);
}

TEST(subject_pattern_set, subjects_with_empty_tokens_match_nothing) {
  // As nats-server's Sublist.Match: an empty token matches no pattern.
  subject_pattern_set set;
  set.insert(">");
  set.insert("a.*");
  for (const char* subject : {"", ".", "a.", ".a", "a..b"}) EXPECT_FALSE(set.matches_plain(subject)) << subject;
}

TEST(subject_pattern_set, moved_from_set_matches_nothing) {
  subject_pattern_set set;
  set.insert("a");
  subject_pattern_set taken(std::move(set));
  EXPECT_TRUE(taken.matches_plain("a"));
  EXPECT_TRUE(set.empty());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_FALSE(set.matches_plain("a"));
  EXPECT_FALSE(set.match("a").plain);
}

TEST(subject_pattern_set, many_patterns) {
  subject_pattern_set set;
  for (int i = 0; i < 500; ++i) set.insert("svc." + std::to_string(i) + ".*");
  EXPECT_TRUE(set.matches_plain("svc.42.x"));
  EXPECT_TRUE(set.matches_plain("svc.499.y"));
  EXPECT_FALSE(set.matches_plain("svc.500.y"));
  EXPECT_FALSE(set.matches_plain("svc.42"));
}
