// The nkey credentials of a NATS client, as nats.go takes them: an nkey seed
// file (nats.NkeyOptionFromSeed) or a .creds file holding a user JWT and its
// seed (nats.UserCredentials). The server sends a nonce in INFO; the client
// signs it with the seed (Ed25519) and sends the signature in CONNECT with
// the public key (`nkey`) or the JWT (`jwt`). Used where Courier is the
// client: the message services' tcp_bus and leafnode remotes.
//
// Both files are nsc's "decorated" form, each value between dashed lines:
//
//   -----BEGIN NATS USER JWT-----
//   eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ...
//   ------END NATS USER JWT------
//   ...
//   -----BEGIN USER NKEY SEED-----
//   SUAB...
//   ------END USER NKEY SEED------
//
// A seed file may also hold the bare seed on a line of its own (what
// `nk -gen user` writes).
#pragma once

#include <string>
#include <string_view>

#include "auth/nkeys.hpp"

namespace courier::auth {

/// A user's nkey (and JWT, from a .creds file). Empty: none configured.
struct nats_credentials {
  std::string user_jwt;             ///< from a .creds file; empty for a bare nkey
  std::string public_key;           ///< the user's public nkey, "U..."
  nkeys::key_bytes seed{};    ///< the private key's 32 seed bytes
  bool empty() const { return public_key.empty(); }
};

/// Reads a user nkey seed file. False with `error` (naming the file, never
/// echoing the seed) when it cannot be read or holds no valid user seed.
bool load_nkey_seed_file(const std::string& path, nats_credentials& out, std::string& error);

/// Reads a .creds file: the first decorated block is the user JWT, the
/// second the seed. False with `error` as above.
bool load_credentials_file(const std::string& path, nats_credentials& out, std::string& error);

/// The CONNECT `sig`: the Ed25519 signature of the nonce's ASCII bytes,
/// base64url without padding (as nats.go sends it).
std::string sign_nonce(const nats_credentials& credentials, std::string_view nonce);

}  // namespace courier::auth
