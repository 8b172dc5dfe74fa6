#include "mss/peers/webhook_signer.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace courier::mss {

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // One-shot HMAC(): not deprecated in OpenSSL 3 (unlike HMAC_CTX).
  // An empty key still needs a non-null pointer.
  static const unsigned char empty = 0;
  const void* key_data = key.empty() ? static_cast<const void*>(&empty) : key.data();
  if (HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), digest, &length) == nullptr)
    return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

std::pair<std::string, std::string> sign_body(const webhook_signing& signing, std::string_view body) {
  return {signing.header, signing.prefix + hmac_sha256_hex(signing.key, body)};
}

bool verify_signature(const webhook_signing& signing, std::string_view body, std::string_view header_value) {
  const std::string expected = sign_body(signing, body).second;
  return expected.size() == header_value.size() &&
         CRYPTO_memcmp(expected.data(), header_value.data(), expected.size()) == 0;
}

}  // namespace courier::mss
