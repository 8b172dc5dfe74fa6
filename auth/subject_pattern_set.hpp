// A set of subject patterns (permission entries), matched against a subject
// that may itself contain wildcards, with nats-server's permission semantics:
// the subject's tokens are taken literally, a pattern `*` matches any one
// token (including a literal `*` or `>` in the subject) and a pattern `>`
// matches one or more remaining tokens. So allow "foo.*" matches SUB "foo.*"
// and "foo.>", but allow "foo.bar" does not match SUB "foo.*".
//
// The broker's router (broker/sublist) matches literal subjects only, which
// is why permissions keep this small trie of their own.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace courier::auth {

/// Immutable after construction; matching is const and thread-safe.
class subject_pattern_set {
 public:
  subject_pattern_set();
  ~subject_pattern_set();
  subject_pattern_set(subject_pattern_set&&) noexcept;
  subject_pattern_set& operator=(subject_pattern_set&&) noexcept;

  /// Adds a pattern; `queue` non-empty scopes it to that queue group.
  void insert(std::string_view pattern, std::string_view queue = {});

  /// What matched a subject: whether any plain (non-queue) pattern did, and
  /// the queue names of the queue-scoped patterns that did.
  struct match_result {
    bool plain = false;
    std::vector<const std::string*> queues;
  };
  match_result match(std::string_view subject) const;

  /// Only whether a plain pattern matches (the publish check).
  bool matches_plain(std::string_view subject) const;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

 private:
  struct node;
  std::unique_ptr<node> root_;
  std::size_t size_ = 0;
};

/// True if every token is non-empty, contains no whitespace, and `>` (alone
/// in its token) is last: nats-server's IsValidSubject.
bool is_valid_subject(std::string_view subject);

/// True if the subject has a `*` or `>` token.
bool subject_has_wildcard(std::string_view subject);

/// True if pattern `test` (may have wildcards) covers every subject that
/// `subject` (may have wildcards) covers: nats-server's subjectIsSubsetMatch.
bool subject_is_subset_match(std::string_view subject, std::string_view test);

}  // namespace courier::auth
