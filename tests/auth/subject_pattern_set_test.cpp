#include "auth/subject_pattern_set.hpp"

#include <algorithm>

#include <gtest/gtest.h>

using courier::auth::is_valid_subject;
using courier::auth::subject_has_wildcard;
using courier::auth::subject_is_subset_match;
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
  auto r = set.match("foo");
  EXPECT_TRUE(r.plain);  // from ">"
  ASSERT_EQ(r.queues.size(), 1u);
  EXPECT_EQ(*r.queues[0], "v1");
  r = set.match("foo.x");
  ASSERT_EQ(r.queues.size(), 1u);
  EXPECT_EQ(*r.queues[0], "v2");

  subject_pattern_set queue_only;
  queue_only.insert("foo", "v1");
  EXPECT_FALSE(queue_only.matches_plain("foo"));
  EXPECT_FALSE(queue_only.match("foo").plain);
  EXPECT_EQ(queue_only.match("foo").queues.size(), 1u);
  EXPECT_TRUE(subject_pattern_set().match("foo").queues.empty());
}

TEST(subject_pattern_set, many_patterns) {
  subject_pattern_set set;
  for (int i = 0; i < 500; ++i) set.insert("svc." + std::to_string(i) + ".*");
  EXPECT_TRUE(set.matches_plain("svc.42.x"));
  EXPECT_TRUE(set.matches_plain("svc.499.y"));
  EXPECT_FALSE(set.matches_plain("svc.500.y"));
  EXPECT_FALSE(set.matches_plain("svc.42"));
}

TEST(subject_validation, is_valid_subject_follows_nats_server) {
  for (const char* good : {"foo", "foo.bar", "*", ">", "foo.*.bar", "foo.>", "*.*", "$SYS.>", "a-b_c"}) {
    EXPECT_TRUE(is_valid_subject(good)) << good;
  }
  for (const char* bad : {"", ".", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.foo", "foo bar", "foo\tbar", " "}) {
    EXPECT_FALSE(is_valid_subject(bad)) << bad;
  }
  EXPECT_TRUE(subject_has_wildcard("foo.*"));
  EXPECT_TRUE(subject_has_wildcard(">"));
  EXPECT_FALSE(subject_has_wildcard("foo*.bar"));
  EXPECT_FALSE(subject_has_wildcard("foo.b>"));
}

TEST(subject_validation, subset_match_follows_nats_server) {
  // From sublist.go's comment: foo.* is a subset of >, *.*, foo.* but not foo.bar.
  EXPECT_TRUE(subject_is_subset_match("foo.*", ">"));
  EXPECT_TRUE(subject_is_subset_match("foo.*", "*.*"));
  EXPECT_TRUE(subject_is_subset_match("foo.*", "foo.*"));
  EXPECT_FALSE(subject_is_subset_match("foo.*", "foo.bar"));
  EXPECT_TRUE(subject_is_subset_match("foo.bar", "foo.*"));
  EXPECT_TRUE(subject_is_subset_match("foo.bar.baz", "foo.>"));
  EXPECT_FALSE(subject_is_subset_match("*.bar", "foo.*"));
  EXPECT_FALSE(subject_is_subset_match("foo.>", "foo.*"));
  EXPECT_FALSE(subject_is_subset_match("foo", "foo.bar"));
  EXPECT_FALSE(subject_is_subset_match("foo.bar", "foo"));
}
