#include "protocol/subject.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace courier::protocol {
namespace {

std::vector<std::string> split(std::string_view subject) {
  std::vector<std::string> out;
  for (std::string_view token : subject_tokens(subject)) out.emplace_back(token);
  return out;
}

TEST(subject_tokens, splits_on_dots) {
  EXPECT_EQ(split("a.b.c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split("a"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(split(""), (std::vector<std::string>{""}));
  EXPECT_EQ(split("a..b"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split(".a."), (std::vector<std::string>{"", "a", ""}));
  EXPECT_EQ(split("."), (std::vector<std::string>{"", ""}));
  EXPECT_EQ(token_count("a.b.c"), 3u);
  EXPECT_EQ(token_count(""), 1u);
  EXPECT_EQ(token_count("a..b"), 3u);
}

TEST(subject_tokens, views_into_subject) {
  const std::string subject = "foo.bar";
  for (std::string_view token : subject_tokens(subject)) {
    EXPECT_GE(token.data(), subject.data());
    EXPECT_LE(token.data() + token.size(), subject.data() + subject.size());
  }
}

// Expectations from nats-server 2.9.10's sublist.go behaviour (and, for the
// subscribe/pedantic columns, checked against the running server with raw
// SUB/PUB: see tests/protocol/nats_server_conformance_test.cpp for the wire).
struct subject_case {
  std::string subject;
  bool valid;        // IsValidSubject
  bool literal;      // IsValidLiteralSubject
  bool publish;      // IsValidPublishSubject
  bool subscribe;    // Sublist.Insert
};

TEST(subject_validation, table) {
  const std::vector<subject_case> cases = {
      {"foo", true, true, true, true},
      {"foo.bar", true, true, true, true},
      {"foo.*", true, false, false, true},
      {"foo.>", true, false, false, true},
      {">", true, false, false, true},
      {"*", true, false, false, true},
      {"*.>", true, false, false, true},
      {"foo.*.bar", true, false, false, true},
      {"foo*", true, true, true, true},          // wildcard chars inside a token are literal
      {"foo>.bar", true, true, true, true},
      {"a.>b", true, true, true, true},
      {"", false, false, false, false},
      {".", false, false, false, false},
      {"foo.", false, false, false, false},
      {".foo", false, false, false, false},
      {"foo..bar", false, false, false, false},
      {">.a", false, false, false, false},       // > must be last
      {"a.>.b", false, false, false, false},
      {"a.>.>", false, false, false, false},
      {"foo bar", false, true, false, true},     // whitespace: only IsValidSubject cares
      {"foo\tbar", false, true, false, true},
      {"a.\f", false, true, false, true},
      {"a\fb", false, true, false, true},
      {" ", false, true, false, true},
      {"a.\r", false, true, false, true},
      {"\xc3\xa9t\xc3\xa9", true, true, true, true},  // UTF-8 is fine
      {"$SYS.>", true, false, false, true},
      {"a-b_c", true, true, true, true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(is_valid_subject(c.subject), c.valid) << "valid: '" << c.subject << "'";
    EXPECT_EQ(is_valid_literal_subject(c.subject), c.literal) << "literal: '" << c.subject << "'";
    EXPECT_EQ(is_valid_publish_subject(c.subject), c.publish) << "publish: '" << c.subject << "'";
    EXPECT_EQ(is_valid_subscribe_subject(c.subject), c.subscribe) << "subscribe: '" << c.subject << "'";
  }
}

// The word-at-a-time check against the token-by-token definition, on every
// subject of up to 5 bytes over an alphabet of the bytes it looks for, and on
// random longer ones (word boundaries, the overlapping last load), each also
// placed at every offset inside a larger buffer.
TEST(subject_validation, literal_check_matches_token_definition) {
  const auto by_tokens = [](std::string_view subject) {
    for (std::string_view token : subject_tokens(subject)) {
      if (token.empty() || token == "*" || token == ">") return false;
    }
    return true;
  };
  const std::string alphabet = std::string("a.*>") + '\0';
  std::vector<std::string> subjects{""};
  for (std::size_t length = 1; length <= 5; ++length) {
    std::vector<std::string> longer;
    for (const auto& s : subjects) {
      if (s.size() + 1 != length) continue;
      for (char c : alphabet) longer.push_back(s + c);
    }
    subjects.insert(subjects.end(), longer.begin(), longer.end());
  }
  std::mt19937 random(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s(6 + random() % 30, 'x');
    for (auto& c : s) c = "ab..*>x"[random() % 7];
    subjects.push_back(s);
    for (auto& c : s) c = random() % 5 == 0 ? '.' : 'k';  // no wildcard byte: the word path to the end
    subjects.push_back(s);
  }
  int checked = 0;
  for (const auto& s : subjects) {
    for (std::size_t offset = 0; offset < 8; ++offset) {
      std::string buffer(offset, '.');
      buffer += s;
      buffer += "..";
      const std::string_view view(buffer.data() + offset, s.size());
      ASSERT_EQ(is_valid_literal_subject(view), by_tokens(view)) << "'" << s << "' at offset " << offset;
      ++checked;
    }
  }
  EXPECT_GT(checked, 300000);
}

TEST(subject_validation, is_literal) {
  EXPECT_TRUE(subject_is_literal("foo.bar"));
  EXPECT_TRUE(subject_is_literal("foo*.bar>"));
  EXPECT_TRUE(subject_is_literal(""));
  EXPECT_FALSE(subject_is_literal("*"));
  EXPECT_FALSE(subject_is_literal("a.*"));
  EXPECT_FALSE(subject_is_literal("a.>"));
  EXPECT_FALSE(subject_is_literal("*.a"));
}

TEST(subject_is_subset_match, follows_nats_server) {
  EXPECT_TRUE(subject_is_subset_match("foo.*", ">"));
  EXPECT_TRUE(subject_is_subset_match("foo.*", "*.*"));
  EXPECT_TRUE(subject_is_subset_match("foo.*", "foo.*"));
  EXPECT_FALSE(subject_is_subset_match("foo.*", "foo.bar"));
  EXPECT_TRUE(subject_is_subset_match("foo.bar", "foo.*"));
  EXPECT_TRUE(subject_is_subset_match("foo.bar.baz", "foo.>"));
  EXPECT_FALSE(subject_is_subset_match("*.bar", "foo.*"));
  EXPECT_FALSE(subject_is_subset_match("foo.>", "foo.*"));
  EXPECT_TRUE(subject_is_subset_match("foo.>", "foo.>"));
  EXPECT_FALSE(subject_is_subset_match("foo", "foo.bar"));
  EXPECT_FALSE(subject_is_subset_match("foo.bar", "foo"));
  EXPECT_FALSE(subject_is_subset_match("foo", "foo.>"));  // `>` needs a token
  EXPECT_FALSE(subject_is_subset_match("a..b", "a.*.b"));  // empty tokens cover nothing
  EXPECT_FALSE(subject_is_subset_match("a.b", "a..b"));
  EXPECT_TRUE(subject_is_subset_match("workers.eu", "workers.*"));  // queue names, as queueMatches uses it
}

TEST(subject_matches, table) {
  struct match_case {
    const char* pattern;
    const char* literal;
    bool matches;
  };
  const match_case cases[] = {
      {"foo", "foo", true},
      {"foo", "bar", false},
      {"foo", "foo.bar", false},
      {"foo.bar", "foo", false},
      {"foo.*", "foo.bar", true},
      {"foo.*", "foo", false},
      {"foo.*", "foo.bar.baz", false},
      {"foo.>", "foo.bar", true},
      {"foo.>", "foo.bar.baz", true},
      {"foo.>", "foo", false},
      {">", "foo", true},
      {">", "foo.bar", true},
      {"*", "foo", true},
      {"*", "foo.bar", false},
      {"*.*", "foo.bar", true},
      {"*.bar", "foo.bar", true},
      {"*.bar", "foo.baz", false},
      {"foo.*.baz", "foo.bar.baz", true},
      {"foo.*.baz", "foo.bar.bar", false},
      {"foo.*.>", "foo.bar.baz.qux", true},
      {"foo.*.>", "foo.bar", false},
      {"foo*", "foo.bar", false},       // not a wildcard
      {"foo*", "foo*", true},
      {"foo.bar", "foo.bar.", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(subject_matches(c.pattern, c.literal), c.matches) << c.pattern << " vs " << c.literal;
  }
}

}  // namespace
}  // namespace courier::protocol
