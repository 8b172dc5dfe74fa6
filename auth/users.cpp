#include "auth/users.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "auth/config_error.hpp"
#include "auth/nkeys.hpp"
#include "auth/password.hpp"
#include "conf/ascii.hpp"
#include "conf/options.hpp"

namespace courier::auth {

namespace {

std::string upper(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

const std::string& expect_string(const picojson::value& v, std::string_view what) {
  if (!v.is<std::string>()) throw config_error("Expected " + std::string(what) + " to be a string, got " + v.to_str());
  return v.get<std::string>();
}

/// A user list as parsed, before accounts and defaults are applied.
struct parsed_users {
  std::vector<user_entry> users;
  std::vector<user_entry> nkeys;
  std::vector<std::optional<permission_spec>> user_perms;  // parallel to users
  std::vector<std::optional<permission_spec>> nkey_perms;  // parallel to nkeys
};

/// opts.go parseUsers.
parsed_users parse_users(const picojson::value& v) {
  if (!v.is<picojson::array>()) throw config_error("Expected users field to be an array, got " + v.to_str());
  parsed_users out;
  for (const auto& item : v.get<picojson::array>()) {
    if (!item.is<picojson::object>()) {
      throw config_error("Expected user entry to be a map/struct, got " + item.to_str());
    }
    user_entry user;
    std::optional<permission_spec> perms;
    for (const auto& [key, value] : item.get<picojson::object>()) {
      auto k = conf::ascii_lower(key);
      if (k == "nkey") {
        user.nkey = expect_string(value, "nkey");
      } else if (k == "user" || k == "username") {
        user.name = expect_string(value, "user");
      } else if (k == "pass" || k == "password") {
        user.password = expect_string(value, "password");
      } else if (k == "permission" || k == "permissions" || k == "authorization") {
        perms = parse_permissions(value);
      } else if (k == "allowed_connection_types" || k == "connection_types" || k == "clients") {
        std::vector<std::string> types;
        if (value.is<std::string>()) {
          types.push_back(value.get<std::string>());
        } else if (value.is<picojson::array>()) {
          for (const auto& t : value.get<picojson::array>()) types.push_back(expect_string(t, "connection type"));
        } else {
          throw config_error("error parsing allowed connection types: unsupported type " + value.to_str());
        }
        static const std::set<std::string> known = {"STANDARD", "WEBSOCKET", "LEAFNODE", "MQTT"};
        bool standard = types.empty();
        bool websocket = types.empty();
        for (const auto& t : types) {
          auto u = upper(t);
          if (!known.count(u)) throw config_error("invalid connection types [\"" + t + "\"]");
          standard = standard || u == "STANDARD";
          websocket = websocket || u == "WEBSOCKET";
        }
        user.standard_clients_allowed = standard;
        user.websocket_clients_allowed = websocket;
      } else {
        throw config_error("unknown field " + go_quote(key));
      }
    }
    if (user.nkey.empty() && user.name.empty()) throw config_error("User entry requires a user");
    if (!user.nkey.empty()) {
      auto decoded = nkeys::decode_public_key(user.nkey, nkeys::prefix::user);
      if (!decoded) throw config_error("Not a valid public nkey for a user: " + go_quote(user.nkey) + ": " + decoded.error);
      if (!user.name.empty() || !user.password.empty()) {
        throw config_error("Nkey users do not take usernames or passwords");
      }
      out.nkeys.push_back(std::move(user));
      out.nkey_perms.push_back(std::move(perms));
    } else {
      out.users.push_back(std::move(user));
      out.user_perms.push_back(std::move(perms));
    }
  }
  return out;
}

/// Compiles permission specs, sharing one object for every user that takes
/// the same default.
std::shared_ptr<const permissions> compile(const std::optional<permission_spec>& own,
                                           const std::shared_ptr<const permissions>& fallback) {
  if (own) return std::make_shared<const permissions>(*own);
  return fallback;
}

const picojson::value* find_key(const picojson::object& object, std::string_view name) {
  for (const auto& [key, value] : object) {
    if (conf::ascii_lower(key) == name) return &value;
  }
  return nullptr;
}

}  // namespace

/// Builds an auth_config in named steps (nats-server opts.go and auth.go):
/// the authorization block, the command-line flags over it, the accounts,
/// then the checks and defaults that need all of them.
struct auth_config_builder {
  static std::shared_ptr<const auth_config> build(const picojson::value& authorization,
                                                  const picojson::value& accounts, std::string_view no_auth_user,
                                                  const auth_flags& flags, bool tls_map,
                                                  std::optional<std::chrono::milliseconds> tls_timeout) {
    auth_config_builder builder(tls_map);
    builder.read_authorization(authorization);
    builder.apply_flags(flags);
    builder.read_accounts(accounts);
    builder.check_no_auth_user(no_auth_user);
    builder.finish(tls_timeout);
    return builder.config_;
  }

 private:
  explicit auth_config_builder(bool tls_map) : config_(std::make_shared<auth_config>()) {
    config_->tls_map_ = tls_map;
    config_->accounts_.emplace_back(global_account);
  }

  /// Adds parsed users and nkeys to `account`, each with its own
  /// permissions or else `defaults`; names must be unique across accounts.
  void add_users(parsed_users& parsed, const std::string& account,
                 const std::shared_ptr<const permissions>& defaults) {
    add_entries(parsed.users, parsed.user_perms, &user_entry::name, "user", account, defaults, config_->users_);
    add_entries(parsed.nkeys, parsed.nkey_perms, &user_entry::nkey, "nkey", account, defaults, config_->nkey_users_);
  }

  /// Users by name or nkeys by key: one name space, one rule each.
  template <typename Map>
  void add_entries(std::vector<user_entry>& entries, std::vector<std::optional<permission_spec>>& specs,
                   std::string user_entry::*key, const char* kind, const std::string& account,
                   const std::shared_ptr<const permissions>& defaults, Map& into) {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      auto& u = entries[i];
      const std::string& name = u.*key;
      if (!names_.insert(name).second) {
        throw config_error(std::string("Duplicate ") + kind + " " + go_quote(name) + " detected");
      }
      u.account = account;
      u.perms = compile(specs[i], defaults);
      into.emplace(name, std::move(u));
    }
  }

  /// `authorization { user, password, token, timeout, users, default_permissions }`.
  void read_authorization(const picojson::value& authorization) {
    if (authorization.is<picojson::null>()) return;
    if (!authorization.is<picojson::object>()) {
      throw config_error("Expected authorization to be a map/struct, got " + authorization.to_str());
    }
    std::optional<parsed_users> users;
    std::optional<permission_spec> default_spec;
    for (const auto& [key, value] : authorization.get<picojson::object>()) {
      read_authorization_field(key, value, users, default_spec);
    }
    if ((!config_->username_.empty() || !config_->password_.empty()) && !config_->token_.empty()) {
      throw config_error("Cannot have a user/pass and token");
    }
    if (users) {
      users_present_ = true;
      if (!config_->username_.empty()) throw config_error("Can not have a single user/pass and a users array");
      if (!config_->token_.empty()) throw config_error("Can not have a token and a users array");
      auto defaults = default_spec ? std::make_shared<const permissions>(*default_spec) : nullptr;
      add_users(*users, std::string(global_account), defaults);
    }
  }

  /// One key of the authorization block; users and default permissions are
  /// kept for read_authorization, which needs both before adding users.
  void read_authorization_field(const std::string& key, const picojson::value& value,
                                std::optional<parsed_users>& users, std::optional<permission_spec>& default_spec) {
    auto k = conf::ascii_lower(key);
    if (k == "user" || k == "username") {
      config_->username_ = expect_string(value, "user");
    } else if (k == "pass" || k == "password") {
      config_->password_ = expect_string(value, "password");
    } else if (k == "token") {
      config_->token_ = expect_string(value, "token");
    } else if (k == "timeout") {
      // Seconds, integer or float; nats-server takes 1 s for any other type.
      if (value.is<std::int64_t>()) {
        timeout_seconds_ = static_cast<double>(value.get<std::int64_t>());
      } else if (value.is<double>()) {
        timeout_seconds_ = value.get<double>();
      } else {
        timeout_seconds_ = 1.0;
      }
    } else if (k == "users") {
      users = parse_users(value);
    } else if (k == "default_permission" || k == "default_permissions" || k == "permissions") {
      default_spec = parse_permissions(value);
    } else {
      throw config_error("unknown field " + go_quote(key));
    }
  }

  /// Flags override the file (nats-server MergeOptions).
  void apply_flags(const auth_flags& flags) {
    if (!flags.user.empty()) config_->username_ = flags.user;
    if (!flags.pass.empty()) config_->password_ = flags.pass;
    if (!flags.token.empty()) config_->token_ = flags.token;
  }

  /// `accounts { NAME: { users: [...], default_permissions } }` or `accounts [A, B]`.
  void read_accounts(const picojson::value& accounts) {
    if (accounts.is<picojson::null>()) return;
    if (accounts.is<picojson::array>()) {
      for (const auto& name : accounts.get<picojson::array>()) read_account_name(name);
    } else if (accounts.is<picojson::object>()) {
      for (const auto& [name, body] : accounts.get<picojson::object>()) read_account(name, body);
    } else {
      throw config_error("Expected accounts to be a map or an array, got " + accounts.to_str());
    }
  }

  /// One entry of the array form: a name, no users.
  void read_account_name(const picojson::value& name) {
    const auto& n = expect_string(name, "account name");
    if (n == global_account) throw config_error(go_quote(n) + " is a Reserved Account");
    if (std::find(config_->accounts_.begin(), config_->accounts_.end(), n) != config_->accounts_.end()) {
      throw config_error("Duplicate Account Entry: " + n);
    }
    config_->accounts_.push_back(n);
  }

  /// One entry of the map form: the account and its users.
  void read_account(const std::string& name, const picojson::value& body) {
    if (!body.is<picojson::object>()) throw config_error("Expected map entries for accounts");
    if (name == global_account) throw config_error(go_quote(name) + " is a Reserved Account");
    config_->accounts_.push_back(name);
    std::optional<parsed_users> users;
    std::optional<permission_spec> default_spec;
    for (const auto& [key, value] : body.get<picojson::object>()) {
      auto k = conf::ascii_lower(key);
      if (k == "users") {
        users = parse_users(value);
      } else if (k == "default_permissions") {
        default_spec = parse_permissions(value);
      } else if (k == "exports" || k == "imports" || k == "mappings" || k == "maps") {
        // Ignoring these would silently change which messages cross
        // accounts, so refuse to start instead.
        throw config_error("account " + go_quote(name) + ": " + key + " are not supported by Courier yet");
      } else if (k == "jetstream" || k == "limits" || k == "nkey") {
        config_->warnings_.push_back("account " + go_quote(name) + ": " + key +
                                     " is not supported by Courier and is ignored");
      } else {
        throw config_error("unknown field " + go_quote(key));
      }
    }
    if (users && (!users->users.empty() || !users->nkeys.empty())) {
      if (!config_->username_.empty()) throw config_error("Can not have a single user/pass and accounts");
      if (!config_->token_.empty()) throw config_error("Can not have a token and accounts");
      users_present_ = true;
      auto defaults = default_spec ? std::make_shared<const permissions>(*default_spec) : nullptr;
      add_users(*users, name, defaults);
    }
  }

  /// no_auth_user must name a configured user (auth.go validateNoAuthUser).
  void check_no_auth_user(std::string_view no_auth_user) {
    if (no_auth_user.empty()) return;
    std::string quoted = "\"" + std::string(no_auth_user) + "\"";
    if (!users_present_) throw config_error("no_auth_user: " + quoted + " present, but users are not defined");
    if (!config_->users_.count(no_auth_user)) {
      throw config_error("no_auth_user: " + quoted +
                         " not present as user in authorization block or account configuration");
    }
    config_->no_auth_user_ = std::string(no_auth_user);
  }

  /// Whether auth is required, the auth timeout (the block's, else the TLS
  /// timeout plus a second) and the plaintext-password warning.
  void finish(std::optional<std::chrono::milliseconds> tls_timeout) {
    config_->auth_required_ = users_present_ || !config_->username_.empty() || !config_->token_.empty();
    if (timeout_seconds_ && *timeout_seconds_ > 0) {
      config_->timeout_ =
          std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(*timeout_seconds_ * 1000)));
    } else if (tls_timeout) {
      config_->timeout_ = *tls_timeout + std::chrono::seconds(1);
    }

    // auth.go checkAuthforWarnings: the single password or any user's.
    bool warn = !config_->password_.empty() && !is_bcrypt(config_->password_);
    for (const auto& [name, u] : config_->users_) {
      if (u.password.empty() && config_->tls_map_) continue;  // certificate users
      if (!is_bcrypt(u.password)) warn = true;
    }
    config_->warn_plaintext_ = warn;
  }

  std::shared_ptr<auth_config> config_;
  std::set<std::string, std::less<>> names_;  ///< users and nkeys, unique across accounts
  std::optional<double> timeout_seconds_;     ///< authorization.timeout, when given
  bool users_present_ = false;                ///< a users array or an account with users
};

std::shared_ptr<const auth_config> auth_config::build(const picojson::value& authorization,
                                                      const picojson::value& accounts, std::string_view no_auth_user,
                                                      const auth_flags& flags, bool tls_map,
                                                      std::optional<std::chrono::milliseconds> tls_timeout) {
  return auth_config_builder::build(authorization, accounts, no_auth_user, flags, tls_map, tls_timeout);
}

std::shared_ptr<const auth_config> auth_config::for_websocket(const conf::websocket_options& websocket) const {
  auto copy = std::make_shared<auth_config>(*this);
  if (websocket.auth_override()) {
    copy->username_ = websocket.username;
    copy->password_ = websocket.password;
    copy->token_ = websocket.token;
    copy->no_auth_user_.clear();
    if (!websocket.no_auth_user.empty()) {
      std::string quoted = "\"" + websocket.no_auth_user + "\"";
      if (users_.empty()) throw config_error("no_auth_user: " + quoted + " present, but users are not defined");
      if (!users_.count(websocket.no_auth_user)) {
        throw config_error("no_auth_user: " + quoted +
                           " not present as user in authorization block or account configuration");
      }
      copy->no_auth_user_ = websocket.no_auth_user;
    }
    copy->auth_required_ = true;
  }
  if (websocket.auth_timeout_seconds > 0) {
    copy->timeout_ = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(websocket.auth_timeout_seconds * 1000)));
  }
  return copy;
}

std::shared_ptr<const auth_config> auth_config::load(const conf::server_options& options, const auth_flags& flags,
                                                     bool tls_map,
                                                     std::optional<std::chrono::milliseconds> tls_timeout) {
  std::string no_auth_user;
  if (options.document.is<picojson::object>()) {
    if (const auto* v = find_key(options.document.get<picojson::object>(), "no_auth_user")) {
      no_auth_user = expect_string(*v, "no_auth_user");
    }
  }
  return build(options.authorization, options.accounts, no_auth_user, flags, tls_map, tls_timeout);
}

// ---------------------------------------------------------------------------

namespace {

/// Splits an RFC 4514 DN into (TYPE, value) pairs, ignoring RDN grouping
/// and order. nullopt when it is not a DN.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_dn(std::string_view dn) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < dn.size()) {
    while (i < dn.size() && dn[i] == ' ') ++i;
    auto eq = dn.find('=', i);
    if (eq == std::string_view::npos || eq == i) return std::nullopt;
    std::string type = upper(dn.substr(i, eq - i));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    i = eq + 1;
    std::string value;
    bool escaped_end = false;
    while (i < dn.size() && dn[i] != ',' && dn[i] != '+') {
      if (dn[i] == '\\' && i + 1 < dn.size()) {
        auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
        if (i + 2 < dn.size() && hex(dn[i + 1]) && hex(dn[i + 2])) {
          value.push_back(static_cast<char>(std::stoi(std::string(dn.substr(i + 1, 2)), nullptr, 16)));
          i += 3;
        } else {
          value.push_back(dn[i + 1]);
          i += 2;
        }
        escaped_end = true;
        continue;
      }
      value.push_back(dn[i++]);
      escaped_end = false;
    }
    if (!escaped_end) {
      while (!value.empty() && value.back() == ' ') value.pop_back();
    }
    if (type.empty()) return std::nullopt;
    out.emplace_back(std::move(type), std::move(value));
    if (i < dn.size()) ++i;  // the separator
  }
  if (out.empty()) return std::nullopt;
  return out;
}

/// Types nats-server's DN parser (go-ldap) knows by more than one name.
std::string canonical_type(const std::string& type) {
  if (type == "E" || type == "EMAIL" || type == "1.2.840.113549.1.9.1") return "EMAILADDRESS";
  if (type == "0.9.2342.19200300.100.1.25") return "DC";
  if (type == "0.9.2342.19200300.100.1.1") return "UID";
  if (type == "2.5.4.3") return "CN";
  return type;
}

bool same_dn(std::vector<std::pair<std::string, std::string>> a, std::vector<std::pair<std::string, std::string>> b) {
  if (a.size() != b.size()) return false;
  for (auto* list : {&a, &b}) {
    for (auto& [type, value] : *list) type = canonical_type(type);
    std::sort(list->begin(), list->end());
  }
  return a == b;
}

/// verify_and_map: the configured user this certificate stands for, if any.
const user_entry* map_certificate(const auth_config& config, const peer_certificate& cert) {
  auto lookup = [&](const std::string& name) -> const user_entry* {
    auto it = config.users().find(name);
    return it == config.users().end() ? nullptr : &it->second;
  };
  for (const auto& e : cert.emails) {
    if (auto* u = lookup(e)) return u;
  }
  for (const auto& d : cert.dns_names) {
    if (auto* u = lookup(d)) return u;
  }
  for (const auto& uri : cert.uris) {
    if (auto* u = lookup(uri)) return u;
  }
  // A configured DN equal to the certificate's subject, in any RDN order.
  if (!cert.subject_attributes.empty()) {
    for (const auto& [name, u] : config.users()) {
      if (name.find('=') == std::string::npos) continue;
      auto dn = parse_dn(name);
      if (dn && same_dn(*dn, cert.subject_attributes)) return &u;
    }
  }
  if (!cert.subject_with_dcs.empty()) {
    if (auto* u = lookup(cert.subject_with_dcs)) return u;
  }
  if (!cert.subject.empty()) {
    if (auto* u = lookup(cert.subject)) return u;
  }
  return nullptr;
}

auth_result success(const user_entry* user, std::string label) {
  auth_result r;
  r.ok = true;
  r.label = std::move(label);
  if (user) {
    r.user = user->nkey.empty() ? user->name : user->nkey;
    r.account = user->account;
    r.perms = user->perms;
  } else {
    r.account = std::string(global_account);
  }
  return r;
}

auth_result failure(std::string label, std::string reason) {
  auth_result r;
  r.label = std::move(label);
  r.reason = std::move(reason);
  return r;
}

/// The user's allowed_connection_types admit this client.
bool type_allowed(const user_entry& user, const client_credentials& cred) {
  return cred.websocket ? user.websocket_clients_allowed : user.standard_clients_allowed;
}

std::string user_label(std::string_view name) {
  return name.empty() ? std::string("User \"N/A\"") : "User " + go_quote(name);
}

}  // namespace

auth_result authenticate(const auth_config& config, const client_credentials& cred) {
  if (!config.auth_required()) return success(nullptr, user_label(cred.user));

  // nkey users: the client names its key and signs our nonce.
  if (!config.nkey_users().empty() && !cred.nkey.empty()) {
    std::string label = "Nkey " + go_quote(cred.nkey);
    auto it = config.nkey_users().find(cred.nkey);
    if (it == config.nkey_users().end()) return failure(label, "unknown nkey");
    if (!type_allowed(it->second, cred)) return failure(label, "connection type not allowed");
    if (cred.sig.empty()) return failure(label, "signature missing");
    if (cred.nonce.empty()) return failure(label, "no nonce was sent");
    auto signature = nkeys::decode_signature(cred.sig);
    if (!signature) return failure(label, "signature not valid base64");
    auto key = nkeys::decode_public_key(cred.nkey, nkeys::prefix::user);
    if (!key) return failure(label, "user nkey not valid: " + key.error);
    if (!nkeys::verify(key.key, cred.nonce, *signature)) return failure(label, "signature not verified");
    return success(&it->second, label);
  }

  const user_entry* user = nullptr;
  std::string_view name = cred.user;
  std::string_view pass = cred.pass;
  if (!config.users().empty()) {
    if (config.tls_map()) {
      if (cred.certificate == nullptr) return failure(user_label(name), "user required in cert, no certificate");
      user = map_certificate(config, *cred.certificate);
      if (user == nullptr) return failure(user_label(cred.certificate->subject), "user in certificate not found");
      if (!type_allowed(*user, cred)) return failure(user_label(user->name), "connection type not allowed");
      name = user->name;
    } else {
      if (!config.no_auth_user().empty() && cred.user.empty() && cred.pass.empty() && cred.auth_token.empty()) {
        auto it = config.users().find(config.no_auth_user());
        if (it != config.users().end()) {
          name = it->second.name;
          // nats-server substitutes the configured password for the
          // client's, so a no_auth_user with a bcrypt password is refused
          // (the hash does not match itself), verified against 2.9.10.
          pass = it->second.password;
        }
      }
      if (!name.empty()) {
        auto it = config.users().find(name);
        if (it == config.users().end()) return failure(user_label(name), "unknown user");
        if (!type_allowed(it->second, cred)) return failure(user_label(name), "connection type not allowed");
        user = &it->second;
      }
    }
  }
  if (user != nullptr) {
    if (!check_password(user->password, pass)) return failure(user_label(name), "password mismatch");
    return success(user, user_label(name));
  }
  if (config.has_token()) {
    if (!check_password(config.token(), cred.auth_token)) return failure(user_label(name), "token mismatch");
    return success(nullptr, user_label(name));
  }
  if (!config.single_user().empty()) {
    if (!constant_time_equals(config.single_user(), cred.user)) return failure(user_label(name), "unknown user");
    if (!check_password(config.single_password(), cred.pass)) return failure(user_label(name), "password mismatch");
    return success(nullptr, user_label(name));
  }
  return failure(user_label(name), "no credentials matched");
}

reload_outcome reauthenticate(const auth_config& config, const client_credentials& credentials,
                              const auth_result& current) {
  reload_outcome out;
  // nats-server first closes clients whose user now lives in another
  // account (clientHasMovedToDifferentAccount), before re-checking the rest.
  const user_entry* entry = nullptr;
  if (auto it = config.nkey_users().find(current.user); it != config.nkey_users().end()) {
    entry = &it->second;
  } else if (auto it2 = config.users().find(current.user); it2 != config.users().end()) {
    entry = &it2->second;
  }
  if (entry != nullptr && entry->account != current.account) {
    out.what = reload_outcome::action::close;
    return out;
  }
  out.result = authenticate(config, credentials);
  if (!out.result.ok) {
    out.what = reload_outcome::action::authorization_violation;
  } else if (out.result.account != current.account) {
    out.what = reload_outcome::action::close;
  }
  return out;
}

}  // namespace courier::auth
