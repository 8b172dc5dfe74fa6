#include "auth/subject_pattern_set.hpp"

#include <string>

#include "protocol/subject.hpp"

namespace courier::auth {

namespace {

/// nats-server queueMatches (server/client.go): an entry's queue names the
/// subscription's queue exactly or, when it holds wildcards, covers it.
bool queue_matches(std::string_view queue, std::string_view entry) noexcept {
  return queue == entry ||
         (!protocol::subject_is_literal(entry) && protocol::subject_is_subset_match(queue, entry));
}

}  // namespace

// The router keeps its result cache on: permission lists never change once
// built, so every connection of a user shares warm, lock-free answers.
subject_pattern_set::subject_pattern_set() : patterns_(std::make_unique<broker::sublist>()) {}
subject_pattern_set::~subject_pattern_set() = default;
subject_pattern_set::subject_pattern_set(subject_pattern_set&&) noexcept = default;
subject_pattern_set& subject_pattern_set::operator=(subject_pattern_set&&) noexcept = default;

void subject_pattern_set::insert(std::string_view pattern, std::string_view queue) {
  auto entry = std::make_shared<broker::subscription>();
  entry->subject.assign(pattern);
  entry->queue.assign(queue);
  if (!queue.empty()) ++queue_scoped_;
  patterns_->insert(std::move(entry));
}

subject_pattern_set::verdict subject_pattern_set::match(std::string_view subject, std::string_view queue) const {
  verdict result;
  if (empty()) return result;
  broker::sublist_read_scope scope;
  const broker::match_result& found = patterns_->match(subject, scope);
  result.plain = !found.plain.empty();
  result.queue_scoped = !found.queues.empty();
  if (queue.empty()) return result;
  for (const auto& group : found.queues) {
    // The router groups queue entries by name: the group's first names it.
    if (queue_matches(queue, group.front()->queue)) {
      result.queue_matched = true;
      break;
    }
  }
  return result;
}

bool subject_pattern_set::matches_plain(std::string_view subject) const {
  if (empty()) return false;
  if (queue_scoped_ == 0) return patterns_->has_interest(subject);
  broker::sublist_read_scope scope;
  return !patterns_->match(subject, scope).plain.empty();
}

}  // namespace courier::auth
