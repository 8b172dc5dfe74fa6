#include "auth/nkeys.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace courier::auth::nkeys {

namespace {

constexpr std::string_view base32_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view base64std_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base32_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

int alphabet_value(std::string_view alphabet, char c) {
  auto pos = alphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

/// Decodes base64 in the given alphabet. With `padded`, the text must be a
/// multiple of four characters with '=' padding (Go's StdEncoding); without,
/// no '=' may appear (Go's RawURLEncoding).
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text, std::string_view alphabet,
                                                       bool padded) {
  if (padded) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    text.remove_suffix(pad);
  }
  // A single leftover character carries 6 bits, less than a byte: invalid.
  if (text.size() % 4 == 1) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = alphabet_value(alphabet, c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
    }
  }
  return out;
}

struct pkey_deleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

bool is_public_prefix(std::uint8_t byte) {
  switch (static_cast<prefix>(byte)) {
    case prefix::account:
    case prefix::cluster:
    case prefix::server:
    case prefix::operator_:
    case prefix::user:
      return true;
    default:
      return false;
  }
}

/// Base32-decodes and checks the trailing checksum; on success returns the
/// bytes without the checksum.
std::optional<std::vector<std::uint8_t>> decode_checked(std::string_view encoded, std::string& error) {
  auto raw = base32_decode(encoded);
  if (!raw) {
    error = "invalid encoding (not base32)";
    return std::nullopt;
  }
  if (raw->size() < 4) {
    error = "invalid encoding (too short)";
    return std::nullopt;
  }
  std::size_t body = raw->size() - 2;
  std::uint16_t stored = static_cast<std::uint16_t>((*raw)[body] | ((*raw)[body + 1] << 8));
  if (crc16(std::span(raw->data(), body)) != stored) {
    error = "invalid checksum";
    return std::nullopt;
  }
  raw->resize(body);
  return raw;
}

}  // namespace

std::uint16_t crc16(std::span<const std::uint8_t> data) {
  std::uint16_t crc = 0;
  for (std::uint8_t byte : data) {
    crc ^= static_cast<std::uint16_t>(byte) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::string base32_encode(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve((data.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t byte : data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(base32_alphabet[(buffer >> bits) & 31]);
    }
  }
  if (bits > 0) out.push_back(base32_alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<std::vector<std::uint8_t>> base32_decode(std::string_view text) {
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = base32_value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
    }
  }
  // A whole character left over (lengths 1, 3, 6 mod 8) is not something an
  // encoder writes; Go's decoder rejects it too.
  if (bits >= 5) return std::nullopt;
  return out;
}

std::string base64url_encode(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t byte : data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(base64url_alphabet[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(base64url_alphabet[(buffer << (6 - bits)) & 63]);
  return out;
}

std::optional<std::vector<std::uint8_t>> decode_signature(std::string_view text) {
  if (auto raw = base64_decode(text, base64url_alphabet, false)) return raw;
  return base64_decode(text, base64std_alphabet, true);
}

decoded_key decode_public_key(std::string_view encoded, prefix expected) {
  decoded_key result;
  auto raw = decode_checked(encoded, result.error);
  if (!raw) return result;
  if (!is_public_prefix((*raw)[0])) {
    result.error = "invalid prefix byte (not a public key)";
    return result;
  }
  if ((*raw)[0] != static_cast<std::uint8_t>(expected)) {
    result.error = "invalid prefix byte (wrong key type)";
    return result;
  }
  if (raw->size() != 1 + key_size) {
    result.error = "invalid key length";
    return result;
  }
  std::copy(raw->begin() + 1, raw->end(), result.key.begin());
  return result;
}

bool is_valid_public_user_key(std::string_view encoded) {
  return static_cast<bool>(decode_public_key(encoded, prefix::user));
}

std::string encode_public_key(prefix type, std::span<const std::uint8_t, key_size> key) {
  std::vector<std::uint8_t> raw;
  raw.reserve(1 + key_size + 2);
  raw.push_back(static_cast<std::uint8_t>(type));
  raw.insert(raw.end(), key.begin(), key.end());
  std::uint16_t crc = crc16(raw);
  raw.push_back(static_cast<std::uint8_t>(crc & 0xff));
  raw.push_back(static_cast<std::uint8_t>(crc >> 8));
  return base32_encode(raw);
}

std::string encode_seed(prefix public_type, std::span<const std::uint8_t, key_size> seed) {
  // Two leading bytes: the seed marker's five bits followed by the public
  // type's five bits, so the text starts with 'S' and then the type letter.
  const auto type = static_cast<std::uint8_t>(public_type);
  std::vector<std::uint8_t> raw;
  raw.reserve(2 + key_size + 2);
  raw.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(prefix::seed) | (type >> 5)));
  raw.push_back(static_cast<std::uint8_t>((type & 31) << 3));
  raw.insert(raw.end(), seed.begin(), seed.end());
  std::uint16_t crc = crc16(raw);
  raw.push_back(static_cast<std::uint8_t>(crc & 0xff));
  raw.push_back(static_cast<std::uint8_t>(crc >> 8));
  return base32_encode(raw);
}

decoded_seed decode_seed(std::string_view encoded) {
  decoded_seed result;
  auto raw = decode_checked(encoded, result.error);
  if (!raw) return result;
  if (raw->size() != 2 + key_size) {
    result.error = "invalid seed length";
    return result;
  }
  std::uint8_t b1 = (*raw)[0] & 248;
  std::uint8_t b2 = static_cast<std::uint8_t>((((*raw)[0] & 7) << 5) | (((*raw)[1] & 248) >> 3));
  if (b1 != static_cast<std::uint8_t>(prefix::seed)) {
    result.error = "invalid seed (no seed prefix)";
    return result;
  }
  if (!is_public_prefix(b2)) {
    result.error = "invalid seed (bad public type)";
    return result;
  }
  result.public_type = static_cast<prefix>(b2);
  std::copy(raw->begin() + 2, raw->end(), result.seed.begin());
  return result;
}

std::optional<key_bytes> public_key_from_seed(std::span<const std::uint8_t, key_size> seed) {
  pkey_ptr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key) return std::nullopt;
  key_bytes out{};
  std::size_t length = out.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), out.data(), &length) != 1 || length != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::vector<std::uint8_t> sign(std::span<const std::uint8_t, key_size> seed, std::string_view message) {
  pkey_ptr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!key || !ctx) return {};
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return {};
  std::vector<std::uint8_t> signature(signature_size);
  std::size_t length = signature.size();
  if (EVP_DigestSign(ctx.get(), signature.data(), &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return {};
  }
  signature.resize(length);
  return signature;
}

bool verify(std::span<const std::uint8_t, key_size> public_key, std::string_view message,
            std::span<const std::uint8_t> signature) {
  if (signature.size() != signature_size) return false;
  pkey_ptr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!key || !ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

bool verify_nonce_signature(std::string_view user_nkey, std::string_view nonce, std::string_view sig) {
  auto key = decode_public_key(user_nkey, prefix::user);
  if (!key) return false;
  auto signature = decode_signature(sig);
  if (!signature) return false;
  return verify(key.key, nonce, *signature);
}

std::string generate_nonce() {
  std::array<std::uint8_t, nonce_raw_size> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    // RAND_bytes fails only when the system has no entropy source at all;
    // a predictable nonce would allow replays, so refuse to go on.
    throw std::runtime_error("OpenSSL RAND_bytes failed: cannot generate a nonce");
  }
  return base64url_encode(raw);
}

}  // namespace courier::auth::nkeys
