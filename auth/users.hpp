// Who may connect: the `authorization` and `accounts` blocks, `no_auth_user`
// and the --user/--pass/--auth flags, compiled into an immutable
// auth_config; and authenticate(), which checks one client's CONNECT
// credentials against it the way nats-server does (auth.go
// processClientOrLeafAuthentication).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <picojson.h>

#include "auth/peer_certificate.hpp"
#include "auth/permissions.hpp"

namespace courier::conf {
struct server_options;
struct websocket_options;
}

namespace courier::auth {

/// The account users without one belong to (nats-server globalAccountName).
inline constexpr std::string_view global_account = "$G";
/// -ERR texts on the authentication path (the connection is closed after).
inline constexpr std::string_view authorization_violation = "Authorization Violation";
inline constexpr std::string_view authentication_timeout = "Authentication Timeout";
/// nats-server AUTH_TIMEOUT; with TLS the default is the TLS timeout + 1 s.
inline constexpr std::chrono::milliseconds default_auth_timeout{2000};

/// One configured user: by name and password, or by nkey.
struct user_entry {
  std::string name;      ///< user name; empty for an nkey user
  std::string password;  ///< plain or bcrypt; empty when not set
  std::string nkey;      ///< public user nkey ("U..."); empty for a named user
  std::string account;   ///< owning account ($G when not in an account)
  /// The user's permissions (its own or the applicable default); null =
  /// unrestricted.
  std::shared_ptr<const permissions> perms;
  /// False when `allowed_connection_types` excludes plain clients (STANDARD).
  bool standard_clients_allowed = true;
  /// False when `allowed_connection_types` excludes WebSocket clients (WEBSOCKET).
  bool websocket_clients_allowed = true;
};

/// --user, --pass, --auth from the command line; they override the file.
struct auth_flags {
  std::string user;
  std::string pass;
  std::string token;
};

/// The authentication settings of a running server. Immutable: a reload
/// builds a new one and swaps the shared_ptr.
class auth_config {
 public:
  /// Builds from the parsed config (options.authorization, options.accounts,
  /// options.document["no_auth_user"]) and the flags. `tls_map` is
  /// tls.verify_and_map; `tls_timeout` is set when TLS is on (it moves the
  /// default auth timeout). Throws config_error.
  static std::shared_ptr<const auth_config> load(const conf::server_options& options, const auth_flags& flags = {},
                                                 bool tls_map = false,
                                                 std::optional<std::chrono::milliseconds> tls_timeout = {});
  /// The settings WebSocket clients authenticate with: this config, with
  /// the websocket block's user/password, token and no_auth_user in place
  /// of the server's when it sets any of them (nats-server's auth
  /// override), and its authorization timeout when given. Throws
  /// config_error when its no_auth_user names no user.
  std::shared_ptr<const auth_config> for_websocket(const conf::websocket_options& websocket) const;
  /// Same, from the blocks directly (null values when absent).
  static std::shared_ptr<const auth_config> build(const picojson::value& authorization,
                                                  const picojson::value& accounts, std::string_view no_auth_user,
                                                  const auth_flags& flags = {}, bool tls_map = false,
                                                  std::optional<std::chrono::milliseconds> tls_timeout = {});

  /// INFO auth_required: any user, nkey, token or single user configured.
  bool auth_required() const { return auth_required_; }
  /// INFO nonce must be sent (nkey users exist). The session generates one
  /// per connection with nkeys::generate_nonce() and passes it back in
  /// client_credentials::nonce.
  bool nonce_required() const { return !nkey_users_.empty(); }
  /// Time a client has to send CONNECT (authorization.timeout).
  std::chrono::milliseconds timeout() const { return timeout_; }
  /// Log plaintext_password_warning once (nats-server checkAuthforWarnings).
  bool warn_plaintext_passwords() const { return warn_plaintext_; }
  /// Non-fatal notes for the log (options accepted but ignored).
  const std::vector<std::string>& warnings() const { return warnings_; }
  /// Every account: $G and those in the accounts block.
  const std::vector<std::string>& accounts() const { return accounts_; }
  /// verify_and_map is on: users are found from the client certificate.
  bool tls_map() const { return tls_map_; }

  const std::map<std::string, user_entry, std::less<>>& users() const { return users_; }
  const std::map<std::string, user_entry, std::less<>>& nkey_users() const { return nkey_users_; }
  const std::string& no_auth_user() const { return no_auth_user_; }
  const std::string& single_user() const { return username_; }
  bool has_token() const { return !token_.empty(); }
  /// The configured token and single-user password (secrets: never log).
  const std::string& token() const { return token_; }
  const std::string& single_password() const { return password_; }

 private:
  friend struct auth_config_builder;
  bool auth_required_ = false;
  bool warn_plaintext_ = false;
  bool tls_map_ = false;
  std::chrono::milliseconds timeout_ = default_auth_timeout;
  std::string username_, password_, token_;  // single user / token mode
  std::string no_auth_user_;
  std::map<std::string, user_entry, std::less<>> users_;
  std::map<std::string, user_entry, std::less<>> nkey_users_;
  std::vector<std::string> accounts_;
  std::vector<std::string> warnings_;
};

/// The narrow view of a client that authentication needs: the CONNECT
/// fields, the nonce sent in INFO and the TLS peer certificate.
struct client_credentials {
  std::string_view user;        ///< CONNECT "user"
  std::string_view pass;        ///< CONNECT "pass"
  std::string_view auth_token;  ///< CONNECT "auth_token"
  std::string_view nkey;        ///< CONNECT "nkey"
  std::string_view sig;         ///< CONNECT "sig"
  std::string_view nonce;       ///< the nonce this connection's INFO carried; empty if none
  const peer_certificate* certificate = nullptr;  ///< verified peer certificate, if any
  bool websocket = false;  ///< a WebSocket client (checked against allowed_connection_types)
};

/// The outcome. On failure send -ERR 'Authorization Violation' and close.
struct auth_result {
  bool ok = false;
  std::string user;     ///< user name or nkey (the no_auth_user / mapped name when applicable); may be empty
  std::string account;  ///< account the connection joins
  /// Permissions for a permission_cache; null = unrestricted.
  std::shared_ptr<const permissions> perms;
  /// nats-server's getAuthUser label for logs: Nkey "U..", User "x" or User "N/A".
  std::string label;
  /// Why it failed, for a debug log line; never contains a secret.
  std::string reason;
};

/// Checks one client. Thread-safe (the config is immutable). A bcrypt
/// check takes tens of milliseconds: call it off the event loop when
/// bcrypt passwords are configured, if latency of other clients matters.
auth_result authenticate(const auth_config& config, const client_credentials& credentials);

/// What a config reload means for one live connection (reload.go
/// reloadAuthorization).
struct reload_outcome {
  enum class action {
    keep,                     ///< still authorized: apply `result.perms` (permission_cache::reset), then
                              ///< drop subscriptions failing keeps_subscription_on_reload
    close,                    ///< its user moved to another account: close without an error; it reconnects
    authorization_violation,  ///< no longer authorized: -ERR 'Authorization Violation' and close
  };
  action what = action::keep;
  auth_result result;  ///< the new authentication (ok when `keep`)
};

/// Re-checks a connection against a reloaded config. `credentials` are the
/// ones it connected with (the session keeps them, including the INFO
/// nonce); `current` is its earlier auth_result.
reload_outcome reauthenticate(const auth_config& config, const client_credentials& credentials,
                              const auth_result& current);

}  // namespace courier::auth
