// Who a client is and what it may do: its account, its authentication and
// its permissions. Socket clients (client_protocol) and in-process ones
// (local_client) both hold one, so an embedded application is confined by
// exactly the rules a TCP client is.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "auth/permissions.hpp"
#include "auth/users.hpp"
#include "broker/subscriber.hpp"

namespace courier::broker {

class server;
struct account;

/// A client's identity and permissions.
///
/// Thread rules: authenticate(), reload() and the publish/subscribe checks
/// run on the owner's thread (the connection's loop; for an in-process
/// client, under its own lock). admits_delivery() runs on publishers'
/// threads: the permissions it reads are swapped atomically.
class client_identity {
 public:
  /// Starts unauthenticated and unrestricted, in `initial`.
  explicit client_identity(account& initial) : account_(&initial) {}

  /// Checks `credentials` against `config`; on success joins the user's
  /// account and applies its permissions. The result carries the reason of
  /// a failure (never a secret).
  const auth::auth_result& authenticate(server& owner, const auth::auth_config& config,
                                        const auth::client_credentials& credentials);
  /// Config reload: re-checks the same credentials. On `keep` the new
  /// permissions are in force when it returns.
  auth::reload_outcome::action reload(const auth::auth_config& config, const auth::client_credentials& credentials);
  /// Drops every restriction (reload to a config without authorization).
  void set_unrestricted() { set_permissions(nullptr); }

  /// The account (subject space) the client lives in.
  account& home() const { return *account_; }
  /// For logs: User "x", Nkey "U..", or empty before authentication.
  const std::string& label() const { return result_.label; }
  /// The user (or nkey) authenticated as; empty when none.
  const std::string& user() const { return result_.user; }
  /// The permissions in force; null when unrestricted.
  const auth::permissions* rules() const { return result_.perms.get(); }

  /// PUB/HPUB check. Owner's thread.
  bool can_publish(std::string_view subject) {
    auto perms = permission_state();
    return !perms || perms->can_publish(subject);
  }
  /// SUB check. Owner's thread.
  bool can_subscribe(std::string_view subject, std::string_view queue) const {
    auto perms = permission_state();
    return !perms || perms->can_subscribe(subject, queue);
  }
  /// Delivery filter for `message` through `sub`: a wildcard subscription
  /// may overlap a deny (or reach past an allow). Records replies for
  /// allow_responses. Any thread; unrestricted clients pay one relaxed load.
  bool admits_delivery(const subscription& sub, const message_view& message) {
    if (!has_permissions_.load(std::memory_order_relaxed)) return true;
    auto perms = permissions_.load();
    if (!perms) return true;
    if (perms->filters_delivery() && !perms->deliver_allowed(message.subject, sub.subject, sub.queue)) return false;
    if (perms->tracks_replies() && !message.reply.empty()) perms->on_delivered_reply(message.reply);
    return true;
  }

 private:
  std::shared_ptr<auth::permission_cache> permission_state() const {
    return has_permissions_.load(std::memory_order_relaxed) ? permissions_.load() : nullptr;
  }
  void set_permissions(std::shared_ptr<const auth::permissions> perms);

  account* account_;  // owner's thread
  auth::auth_result result_;  // owner's thread
  /// Replaced on authentication and reload while publishers on other
  /// threads deliver, hence atomic; has_permissions_ lets unrestricted
  /// clients skip even the atomic load on the delivery path.
  std::atomic<std::shared_ptr<auth::permission_cache>> permissions_;
  std::atomic<bool> has_permissions_{false};
};

}  // namespace courier::broker
