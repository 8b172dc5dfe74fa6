// Password and token checks as nats-server does them: a configured value that
// looks like a bcrypt hash is verified with bcrypt (the system's libxcrypt),
// anything else is compared with the offered value in constant time.
#pragma once

#include <string_view>

namespace courier::auth {

/// nats-server's warning (auth.go checkAuthforWarnings) when a configured
/// password is not bcrypt. Log it once at startup/reload when
/// auth_config::warn_plaintext_passwords is set.
inline constexpr std::string_view plaintext_password_warning = "Plaintext passwords detected, use nkeys or bcrypt";

/// True if `value` is a bcrypt hash by nats-server's rule: it matches
/// ^\$2[abxy]\$\d{2}\$ (auth.go validBcryptPrefix).
bool is_bcrypt(std::string_view value);

/// Equality of two byte strings whose running time depends only on their
/// lengths, not on where they differ.
bool constant_time_equals(std::string_view a, std::string_view b);

/// Checks an offered password or token against the configured one: bcrypt
/// when the configured value is a bcrypt hash, constant-time equality
/// otherwise. An offered password the hash function refuses (libxcrypt caps
/// passphrases at 512 bytes) never matches. Thread-safe.
bool check_password(std::string_view configured, std::string_view offered);

}  // namespace courier::auth
