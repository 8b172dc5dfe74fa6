#include "protocol/subject.hpp"

namespace courier::protocol {
namespace {

bool is_wildcard_token(std::string_view token) noexcept {
  return token.size() == 1 && (token[0] == '*' || token[0] == '>');
}

// The whitespace set nats-server's IsValidSubject rejects.
bool is_subject_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

}  // namespace

bool is_valid_subject(std::string_view subject) noexcept {
  if (subject.empty()) return false;
  bool after_full_wildcard = false;
  for (std::string_view token : subject_tokens(subject)) {
    if (token.empty() || after_full_wildcard) return false;
    for (char c : token) {
      if (is_subject_space(c)) return false;
    }
    if (token == ">") after_full_wildcard = true;
  }
  return true;
}

bool detail::is_valid_literal_subject_by_bytes(std::string_view subject) noexcept {
  const char* token = subject.data();
  const char* const end = subject.data() + subject.size();
  for (const char* p = subject.data();; ++p) {
    if (p == end || *p == '.') {
      if (p == token || is_wildcard_token({token, static_cast<std::size_t>(p - token)})) return false;
      if (p == end) return true;
      token = p + 1;
    }
  }
}

bool subject_is_literal(std::string_view subject) noexcept {
  for (std::string_view token : subject_tokens(subject)) {
    if (is_wildcard_token(token)) return false;
  }
  return true;
}

bool is_valid_publish_subject(std::string_view subject) noexcept {
  return is_valid_subject(subject) && subject_is_literal(subject);
}

bool is_valid_subscribe_subject(std::string_view subject) noexcept {
  bool after_full_wildcard = false;
  for (std::string_view token : subject_tokens(subject)) {
    if (token.empty() || after_full_wildcard) return false;
    if (token == ">") after_full_wildcard = true;
  }
  return true;
}

bool subject_is_subset_match(std::string_view subject, std::string_view test) noexcept {
  subject_tokens subject_range(subject);
  subject_tokens test_range(test);
  auto s = subject_range.begin();
  for (std::string_view t : test_range) {
    if (s == subject_range.end()) return false;
    if (t.empty()) return false;
    if (t == ">") return true;
    const std::string_view token = *s;
    if (token.empty() || token == ">") return false;
    if (token == "*") {
      if (t != "*") return false;
    } else if (t != "*" && t != token) {
      return false;
    }
    ++s;
  }
  return s == subject_range.end();
}

std::size_t token_count(std::string_view subject) noexcept {
  std::size_t count = 1;
  for (char c : subject) count += c == '.';
  return count;
}

bool subject_matches(std::string_view pattern, std::string_view literal) noexcept {
  subject_tokens pattern_tokens(pattern);
  subject_tokens literal_tokens(literal);
  auto p = pattern_tokens.begin();
  auto l = literal_tokens.begin();
  for (; p != pattern_tokens.end(); ++p, ++l) {
    if (*p == ">") return l != literal_tokens.end();  // one or more tokens left
    if (l == literal_tokens.end()) return false;
    if (*p != "*" && *p != *l) return false;
  }
  return l == literal_tokens.end();
}

}  // namespace courier::protocol
