// A set of subject patterns (the entries of one permission allow or deny
// list), matched with the broker's own router: the patterns are filed in a
// broker::sublist, as nats-server files them in a Sublist (perm{allow, deny}
// in server/client.go), so permission checks share the router's token trie,
// its lock-free result cache and its subject semantics, and no subject is
// split into a vector or looked up in a string-keyed tree per check.
//
// A checked subject may itself hold wildcards (a SUB subject). Its tokens are
// taken literally, exactly as the router takes a published subject's: a
// pattern `*` matches any one token (including a literal `*` or `>`), a
// pattern `>` matches one or more remaining tokens, and a literal pattern
// token matches only the same token. So allow "foo.*" matches SUB "foo.*"
// and "foo.>", but allow "foo.bar" does not match SUB "foo.*". A subject with
// an empty token ("a..b", "a.") matches nothing, as in nats-server.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "broker/router/sublist.hpp"

namespace courier::auth {

/// Immutable once built (insert only while constructing, from one thread);
/// matching is const, thread-safe and, on the router's cache hit, free of
/// locks and allocation.
class subject_pattern_set {
 public:
  subject_pattern_set();
  ~subject_pattern_set();
  subject_pattern_set(subject_pattern_set&&) noexcept;
  subject_pattern_set& operator=(subject_pattern_set&&) noexcept;

  /// Adds a pattern; `queue` non-empty scopes it to that queue group. The
  /// pattern is filed as given (a "subject queue" entry in a publish list
  /// becomes one token holding a space, which no published subject matches).
  void insert(std::string_view pattern, std::string_view queue = {});

  /// What matched a subject, for a subscription in `queue`.
  struct verdict {
    /// A plain (not queue-scoped) pattern matched.
    bool plain = false;
    /// At least one queue-scoped pattern matched.
    bool queue_scoped = false;
    /// One of those names `queue` (nats-server queueMatches: by name, or as
    /// a pattern when the entry's queue holds wildcards). False when `queue`
    /// is empty.
    bool queue_matched = false;
  };
  /// The verdict for `subject` (may hold wildcards) and `queue` (empty for a
  /// plain subscription).
  verdict match(std::string_view subject, std::string_view queue = {}) const;

  /// Only whether a plain pattern matches (the publish check). Without
  /// queue-scoped entries (publish lists never have any) this is the
  /// router's has_interest: a cached answer, or a walk that stops at the
  /// first match and neither allocates nor fills the cache, so subjects seen
  /// once (replies, per-message ids) do not churn it.
  bool matches_plain(std::string_view subject) const;

  /// True when no pattern was inserted.
  bool empty() const noexcept { return size() == 0; }
  /// Number of patterns inserted.
  std::size_t size() const noexcept { return patterns_ ? patterns_->count() : 0; }

 private:
  /// Patterns as router subscriptions (no subscriber). Behind a pointer: a
  /// router does not move. Null only in a moved-from set, which matches
  /// nothing.
  std::unique_ptr<broker::sublist> patterns_;
  /// Number of queue-scoped patterns.
  std::size_t queue_scoped_ = 0;
};

}  // namespace courier::auth
