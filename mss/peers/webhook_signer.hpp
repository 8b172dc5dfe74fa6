// HMAC-SHA256 signing of webhook bodies, so the receiver can check that a
// request came from us and was not altered: the header carries
// "<prefix><lowercase hex of HMAC-SHA256(key, body)>", by default
// `X-Courier-Signature: sha256=<hex>` (the same shape GitHub-style receivers
// verify).
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace courier::mss {

/// Where and how to put the signature.
struct webhook_signing {
  std::string key;                              ///< shared secret; empty = do not sign
  std::string header = "X-Courier-Signature";  ///< header name
  std::string prefix = "sha256=";              ///< text before the hex digest
};

/// Lowercase hex of HMAC-SHA256(key, data) (64 characters).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// The (header name, header value) pair signing `body`.
std::pair<std::string, std::string> sign_body(const webhook_signing& signing, std::string_view body);

/// Constant-time comparison of a received header value with the expected one.
bool verify_signature(const webhook_signing& signing, std::string_view body, std::string_view header_value);

}  // namespace courier::mss
