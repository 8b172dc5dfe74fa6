// Subject permissions as nats-server applies them (client.go canSubscribe,
// pubAllowedFullCheck, checkDenySub; opts.go parseUserPermissions):
//
//   permissions {
//     publish:   "a.>" | ["a.>", "b"] | { allow: [...], deny: [...] }
//     subscribe: same, entries may be "subject queue" to scope to a queue group
//     allow_responses: true | { max: N, expires: "1m" }
//   }
//
// A list means allow; no allow list means everything is allowed; deny wins.
// allow_responses lets the user publish to reply subjects it received, up to
// `max` times each within `expires` (default 1 message, 2 minutes), and
// turns off the blanket publish allow when no publish allow list is given.
//
// Three pieces: `permission_spec` (plain data, from config), `permissions`
// (compiled, immutable, shared by every connection of a user) and
// `permission_cache` (one per connection: the publish decision cache and the
// replies it may answer).
//
// Matching is the router's: each allow and deny list is a broker::sublist of
// its patterns (auth/subject_pattern_set.hpp), as nats-server keeps
// perm{allow, deny} sublists. Its lock-free result cache is shared by every
// connection of the user; in front of it each connection keeps a small
// publish decision cache (nats-server pcache, pubAllowedFullCheck). The
// delivery filter for wildcard subscriptions goes straight to the shared
// router cache, so a delivery takes no lock and allocates nothing on a hit.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <picojson.h>

#include "auth/subject_pattern_set.hpp"
#include "broker/router/string_table.hpp"
#include "broker/spin_mutex.hpp"

namespace courier::auth {

/// nats-server DEFAULT_ALLOW_RESPONSE_MAX_MSGS and _EXPIRATION.
inline constexpr int default_response_max_messages = 1;
inline constexpr std::chrono::milliseconds default_response_expires{2 * 60 * 1000};

/// One direction (publish or subscribe).
struct subject_permission {
  /// Allowed subjects; nullopt = no allow list (all allowed). An empty list
  /// allows nothing.
  std::optional<std::vector<std::string>> allow;
  std::vector<std::string> deny;
};

/// `allow_responses`. A value <= 0 means unlimited (nats-server accepts
/// negative numbers as "infinite"; 0 in the config means the default).
struct response_permission {
  int max_messages = default_response_max_messages;
  std::chrono::milliseconds expires = default_response_expires;
};

/// A permissions block as configured.
struct permission_spec {
  std::optional<subject_permission> publish;
  std::optional<subject_permission> subscribe;
  std::optional<response_permission> response;
};

/// Parses a `permissions` value (the map). Throws config_error with
/// nats-server's message for the same mistake. Applies allow_responses'
/// rule: without a publish allow list, publish allow becomes empty.
permission_spec parse_permissions(const picojson::value& value);

/// Compiled permissions. Immutable and thread-safe.
class permissions {
 public:
  /// Throws config_error for an entry nats-server rejects.
  explicit permissions(permission_spec spec);

  /// Publish check on the allow and deny lists only (no reply tracking);
  /// use permission_cache::can_publish on the hot path.
  bool can_publish(std::string_view subject) const;
  /// nats-server's canSubscribe: the subscription is accepted. `queue`
  /// empty for a plain subscription.
  bool can_subscribe(std::string_view subject, std::string_view queue = {}) const;
  /// Whether a message on literal `subject` may be delivered through a
  /// subscription in `queue` (empty: plain): the subject itself must pass
  /// can_subscribe. Needed only for wildcard subscriptions; see
  /// permission_cache::deliver_allowed.
  bool deliver_allowed(std::string_view subject, std::string_view queue = {}) const;

  /// True when publishing is restricted at all (allow or deny list).
  bool restricts_publish() const { return publish_allow_.has_value() || !publish_deny_.empty(); }
  /// True when subscribing is restricted at all.
  bool restricts_subscribe() const { return subscribe_allow_.has_value() || !subscribe_deny_.empty(); }
  /// allow_responses, if set.
  const std::optional<response_permission>& response() const { return spec_.response; }
  /// What this was built from (for monitoring and reload comparison).
  const permission_spec& spec() const { return spec_; }

 private:
  permission_spec spec_;
  std::optional<subject_pattern_set> publish_allow_;
  subject_pattern_set publish_deny_;
  std::optional<subject_pattern_set> subscribe_allow_;
  subject_pattern_set subscribe_deny_;
};

/// The reply subjects a connection received with allow_responses: each may
/// be published to `max_messages` times within `expires` of its delivery.
/// Thread-safe: deliveries come from publishers' threads. Each call holds a
/// spin lock for one table operation (no allocation on a lookup).
class response_tracker {
 public:
  using clock = std::chrono::steady_clock;
  /// nats-server replyPermLimit: above this many entries, expired and used
  /// ones are pruned.
  static constexpr std::size_t prune_threshold = 4096;

  explicit response_tracker(response_permission limits) : limits_(limits) {}

  /// A message with reply subject `reply` was delivered to the connection.
  void on_delivered(std::string_view reply, clock::time_point now = clock::now());
  /// The connection publishes to `subject`, not allowed by its lists: true
  /// (and counted) if it is a reply it may still answer.
  bool try_respond(std::string_view subject, clock::time_point now = clock::now());
  /// Entries held (for tests and monitoring).
  std::size_t size() const;

 private:
  struct entry {
    clock::time_point delivered;
    int count = 0;
  };
  void prune(clock::time_point now);  // mutex_ held

  response_permission limits_;
  mutable broker::spin_mutex mutex_;
  broker::string_table<entry> replies_;  // lock: mutex_
};

/// Per-connection permission state owned by the session. Publish and
/// subscribe checks run on the session's own thread; deliver_allowed and
/// on_delivered_reply are called by publishers on any thread, and take no
/// lock (deliver_allowed) or one spin lock (on_delivered_reply, with
/// allow_responses only).
class permission_cache {
 public:
  using clock = response_tracker::clock;
  /// Bound of the publish decision cache (nats-server maxPermCacheSize), and
  /// how many entries one overflow evicts (pruneSize).
  static constexpr std::size_t max_entries = 128;
  static constexpr std::size_t prune_count = 32;

  /// `perms` null means no restrictions (every check passes).
  explicit permission_cache(std::shared_ptr<const permissions> perms);

  /// PUB/HPUB check, including allow_responses. Session thread.
  bool can_publish(std::string_view subject, clock::time_point now = clock::now());
  /// SUB check. Session thread.
  bool can_subscribe(std::string_view subject, std::string_view queue = {}) const;
  /// True when deliveries through wildcard subscriptions must be checked
  /// with deliver_allowed (subscribe permissions exist). Lets the delivery
  /// path skip the call entirely for unrestricted users.
  bool filters_delivery() const { return perms_ && perms_->restricts_subscribe(); }
  /// Delivery filter for a message on `subject` through subscription
  /// `sub_subject` in `queue`. Cheap when the subscription is literal (it
  /// was checked at SUB time); otherwise answered by the permission lists'
  /// shared router cache, lock-free on a hit. Any thread.
  bool deliver_allowed(std::string_view subject, std::string_view sub_subject, std::string_view queue = {});
  /// Record a delivered message's reply subject (no-op without
  /// allow_responses or with an empty reply). Any thread.
  void on_delivered_reply(std::string_view reply, clock::time_point now = clock::now());
  /// True if allow_responses is on (the delivery path may skip the call).
  bool tracks_replies() const { return responses_ != nullptr; }

  /// The permissions in force; null = unrestricted.
  const std::shared_ptr<const permissions>& current() const { return perms_; }
  /// Replace the permissions (config reload). Session thread; the caller
  /// must not run deliveries concurrently with this (it clears the caches
  /// and the reply tracker when allow_responses changes).
  void reset(std::shared_ptr<const permissions> perms);

  /// Entries in the publish decision cache (tests).
  std::size_t publish_cache_size() const { return publish_cache_.size(); }

 private:
  std::shared_ptr<const permissions> perms_;
  /// Subject -> the allow/deny lists' verdict (replies aside). Session
  /// thread only; at most max_entries.
  broker::string_table<bool> publish_cache_;
  std::unique_ptr<response_tracker> responses_;
};

/// Go's %q quoting of a subject, as nats-server prints it in errors: double
/// quotes, with `"` `\` and non-printable bytes escaped.
std::string go_quote(std::string_view text);

/// -ERR texts (without the -ERR '...' framing):
/// Permissions Violation for Publish to "<subject>"
std::string publish_violation(std::string_view subject);
/// Permissions Violation for Subscription to "<subject>"[ using queue "<queue>"]
std::string subscribe_violation(std::string_view subject, std::string_view queue = {});
/// Permissions Violation for Publish with Reply of "<reply>" (reserved reply
/// prefixes; nats-server sends it when a client uses one).
std::string reply_violation(std::string_view reply);

/// Log texts nats-server writes at error level for the same events.
/// `auth_user` is e.g. `User "alice"` or `Nkey "U..."` (see auth_user_label).
std::string publish_violation_log(std::string_view auth_user, std::string_view subject);
std::string subscribe_violation_log(std::string_view auth_user, std::string_view subject, std::string_view queue,
                                    std::string_view sid);

/// Config reload (client.go processSubsOnConfigReload): a subscription
/// survives if its subject may be subscribed plainly, or with its queue.
/// `perms` null = unrestricted.
bool keeps_subscription_on_reload(const permissions* perms, std::string_view subject, std::string_view queue);
/// -ERR text for a subscription removed by a reload:
/// Permissions Violation for Subscription to "<subject>" (sid "<sid>")
std::string reload_subscription_violation(std::string_view subject, std::string_view sid);
/// Notice logged for it: Removed sub "<subject>" (sid "<sid>") for <auth_user> - not authorized
std::string reload_subscription_removed_log(std::string_view subject, std::string_view sid, std::string_view auth_user);

/// The wire form: -ERR '<text>'\r\n, as protocol::append_err writes it.
std::string err_line(std::string_view text);

}  // namespace courier::auth
