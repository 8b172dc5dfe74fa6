// A NATS user credentials file (.creds): the user's JWT and nkey seed, each
// between dashed marker lines, as `nsc` writes them and nats.go reads them.
// Used where Courier is the client: a leafnode remote's `credentials`.
#pragma once

#include <string>
#include <string_view>

#include "auth/nkeys.hpp"

namespace courier::auth {

struct user_credentials {
  std::string jwt;
  nkeys::key_bytes seed{};

  /// CONNECT's `sig`: the seed's Ed25519 signature over the server's nonce,
  /// base64url without padding.
  std::string sign_nonce(std::string_view nonce) const;
};

/// Parses a .creds text: the first marked block is the JWT, the second the
/// user seed ("SU..."). Throws std::runtime_error saying what is missing or
/// wrong, without echoing the seed.
user_credentials parse_credentials(std::string_view text);

/// Reads and parses `path`; errors name the file.
user_credentials load_credentials(const std::string& path);

}  // namespace courier::auth
