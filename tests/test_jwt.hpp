// NATS JWTs for tests of operator mode (nats-server's `operator:` with a
// MEMORY resolver): operator, account and user keys, the JWTs as `nsc`
// issues them (v2: header alg "ed25519-nkey", the issuer's Ed25519
// signature over "header.claims"), and the .creds file a user connects with.
// Made with Courier's own nkey code (Ed25519 through OpenSSL).
#pragma once

#include <openssl/rand.h>

#include <ctime>
#include <stdexcept>
#include <string>
#include <string_view>

#include "auth/nkeys.hpp"

namespace courier::test {

struct nkey_pair {
  auth::nkeys::key_bytes seed{};
  std::string public_key;  ///< "O...", "A...", "U..."
  std::string seed_text;   ///< "SO...", "SA...", "SU..."
};

inline nkey_pair make_nkey(auth::nkeys::prefix type) {
  nkey_pair pair;
  if (RAND_bytes(pair.seed.data(), static_cast<int>(pair.seed.size())) != 1) throw std::runtime_error("RAND_bytes");
  const auto public_key = auth::nkeys::public_key_from_seed(pair.seed);
  if (!public_key) throw std::runtime_error("no public key from a random seed");
  pair.public_key = auth::nkeys::encode_public_key(type, *public_key);
  pair.seed_text = auth::nkeys::encode_seed(type, pair.seed);
  return pair;
}

inline std::string base64url_text(std::string_view text) {
  return auth::nkeys::base64url_encode({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

/// A JWT issued by `issuer` for `subject`; `nats_claims` is the "nats" object
/// as JSON text.
inline std::string make_jwt(const nkey_pair& issuer, const std::string& subject, const std::string& name,
                            const std::string& nats_claims) {
  nkey_pair id = make_nkey(auth::nkeys::prefix::user);  // 32 random bytes for the jti
  const std::string header = base64url_text(R"({"typ":"JWT","alg":"ed25519-nkey"})");
  const std::string claims =
      base64url_text(R"({"jti":")" + auth::nkeys::base32_encode(id.seed) + R"(","iat":)" +
                     std::to_string(std::time(nullptr)) + R"(,"iss":")" + issuer.public_key + R"(","name":")" + name +
                     R"(","sub":")" + subject + R"(","nats":)" + nats_claims + "}");
  const std::string signed_part = header + "." + claims;
  return signed_part + "." + auth::nkeys::base64url_encode(auth::nkeys::sign(issuer.seed, signed_part));
}

/// A user of `account`, without limits.
inline std::string make_user_jwt(const nkey_pair& account, const nkey_pair& user, const std::string& name = "user") {
  return make_jwt(account, user.public_key, name,
                  R"({"pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1,"type":"user","version":2})");
}

/// A .creds file as nsc writes it: the user's JWT, then a seed.
inline std::string creds_text(const std::string& jwt, const std::string& seed_text) {
  return "-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n\n" +
         "************************* IMPORTANT *************************\n"
         "NKEY Seed printed below can be used to sign and prove identity.\n\n"
         "-----BEGIN USER NKEY SEED-----\n" +
         seed_text + "\n------END USER NKEY SEED------\n\n" +
         "*************************************************************\n";
}

/// An operator and one account it signed, without limits.
struct operator_chain {
  nkey_pair operator_key = make_nkey(auth::nkeys::prefix::operator_);
  nkey_pair account = make_nkey(auth::nkeys::prefix::account);

  /// nats-server config lines: the operator's JWT inline, the account preloaded.
  std::string server_config() const {
    const std::string operator_jwt =
        make_jwt(operator_key, operator_key.public_key, "test-operator", R"({"type":"operator","version":2})");
    const std::string account_jwt = make_jwt(
        operator_key, account.public_key, "test-account",
        R"({"limits":{"subs":-1,"data":-1,"payload":-1,"imports":-1,"exports":-1,"wildcards":true,"conn":-1,"leaf":-1},)"
        R"("default_permissions":{"pub":{},"sub":{}},"type":"account","version":2})");
    return "operator: \"" + operator_jwt + "\"\nresolver: MEMORY\nresolver_preload: {\n  " + account.public_key +
           ": \"" + account_jwt + "\"\n}\n";
  }
};

}  // namespace courier::test
