#include "auth/subject_pattern_set.hpp"

namespace courier::auth {

namespace {

/// Splits on '.'; empty tokens are kept (they never match a valid pattern).
std::vector<std::string_view> tokenize(std::string_view subject) {
  std::vector<std::string_view> tokens;
  std::size_t start = 0;
  while (true) {
    auto dot = subject.find('.', start);
    if (dot == std::string_view::npos) {
      tokens.push_back(subject.substr(start));
      return tokens;
    }
    tokens.push_back(subject.substr(start, dot - start));
    start = dot + 1;
  }
}

bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

}  // namespace

/// One level of the trie: the patterns ending here, and the next level by
/// literal token, by `*`, and the patterns ending in `>` here.
struct subject_pattern_set::node {
  std::map<std::string, std::unique_ptr<node>, std::less<>> literal;
  std::unique_ptr<node> star;
  std::unique_ptr<node> full;  // only its terminal data is used
  bool plain = false;
  std::vector<std::string> queues;

  void collect(match_result& result) const {
    result.plain = result.plain || plain;
    for (const auto& q : queues) result.queues.push_back(&q);
  }
};

subject_pattern_set::subject_pattern_set() : root_(std::make_unique<node>()) {}
subject_pattern_set::~subject_pattern_set() = default;
subject_pattern_set::subject_pattern_set(subject_pattern_set&&) noexcept = default;
subject_pattern_set& subject_pattern_set::operator=(subject_pattern_set&&) noexcept = default;

void subject_pattern_set::insert(std::string_view pattern, std::string_view queue) {
  node* level = root_.get();
  for (auto token : tokenize(pattern)) {
    std::unique_ptr<node>* next;
    if (token == "*") {
      next = &level->star;
    } else if (token == ">") {
      next = &level->full;
    } else {
      auto it = level->literal.find(token);
      if (it == level->literal.end()) it = level->literal.emplace(std::string(token), nullptr).first;
      next = &it->second;
    }
    if (!*next) *next = std::make_unique<node>();
    level = next->get();
  }
  if (queue.empty()) {
    level->plain = true;
  } else {
    level->queues.emplace_back(queue);
  }
  ++size_;
}

namespace {

template <typename Node, typename Visit>
void walk(const Node* level, const std::vector<std::string_view>& tokens, std::size_t i, Visit& visit) {
  for (; level != nullptr; ++i) {
    if (i == tokens.size()) {
      visit(*level);
      return;
    }
    // `>` needs at least one token, and there is one (tokens[i]).
    if (level->full) visit(*level->full);
    if (level->star) walk(level->star.get(), tokens, i + 1, visit);
    auto it = level->literal.find(tokens[i]);
    level = it == level->literal.end() ? nullptr : it->second.get();
  }
}

}  // namespace

subject_pattern_set::match_result subject_pattern_set::match(std::string_view subject) const {
  match_result result;
  if (size_ == 0) return result;
  auto tokens = tokenize(subject);
  auto visit = [&](const node& n) { n.collect(result); };
  walk(root_.get(), tokens, 0, visit);
  return result;
}

bool subject_pattern_set::matches_plain(std::string_view subject) const {
  if (size_ == 0) return false;
  bool found = false;
  auto tokens = tokenize(subject);
  auto visit = [&](const node& n) { found = found || n.plain; };
  walk(root_.get(), tokens, 0, visit);
  return found;
}

bool is_valid_subject(std::string_view subject) {
  if (subject.empty()) return false;
  bool after_full = false;
  for (auto token : tokenize(subject)) {
    if (token.empty() || after_full) return false;
    for (char c : token) {
      if (is_whitespace(c)) return false;
    }
    if (token == ">") after_full = true;
  }
  return true;
}

bool subject_has_wildcard(std::string_view subject) {
  for (auto token : tokenize(subject)) {
    if (token == "*" || token == ">") return true;
  }
  return false;
}

bool subject_is_subset_match(std::string_view subject, std::string_view test) {
  auto tokens = tokenize(subject);
  auto test_tokens = tokenize(test);
  for (std::size_t i = 0; i < test_tokens.size(); ++i) {
    if (i >= tokens.size()) return false;
    auto t2 = test_tokens[i];
    if (t2.empty()) return false;
    if (t2 == ">") return true;
    auto t1 = tokens[i];
    if (t1.empty() || t1 == ">") return false;
    if (t1 == "*") {
      if (t2 != "*") return false;
      continue;
    }
    if (t2 != "*" && t1 != t2) return false;
  }
  return tokens.size() == test_tokens.size();
}

}  // namespace courier::auth
