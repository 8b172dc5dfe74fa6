// NATS nkeys: Ed25519 keys in the text form nats-server and the clients use.
//
// An encoded key is base32 (RFC 4648 alphabet, no padding) of
//   prefix byte | 32-byte key | CRC16/XMODEM of the preceding bytes, little-endian.
// The prefix byte's top five bits give the first base32 letter: 'U' for a user
// (20 << 3), 'A' account, 'N' server, 'O' operator, 'C' cluster. A seed ('S')
// carries two prefix bytes, the seed marker and the public type, so that it
// encodes to "SU..." for a user seed.
//
// Authentication with an nkey: the server sends a nonce in INFO, the client
// signs the nonce's ASCII bytes with its private key and sends the public key
// (`nkey`) and the signature (`sig`, base64url without padding; standard
// base64 is accepted too) in CONNECT.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace courier::auth::nkeys {

/// Prefix bytes of the nkey types (the nkeys library's PrefixByte values).
enum class prefix : std::uint8_t {
  account = 0,          ///< 'A'
  cluster = 2 << 3,     ///< 'C'
  server = 13 << 3,     ///< 'N'
  operator_ = 14 << 3,  ///< 'O'
  private_key = 15 << 3,///< 'P'
  seed = 18 << 3,       ///< 'S'
  user = 20 << 3,       ///< 'U'
};

/// Size of an Ed25519 public key and of a seed (the private key's 32 bytes).
inline constexpr std::size_t key_size = 32;
/// Size of an Ed25519 signature.
inline constexpr std::size_t signature_size = 64;
/// Raw random bytes in a nonce, and its encoded length: nats-server sends 11
/// random bytes as base64url without padding, 15 characters (nkey.go
/// nonceRawLen / nonceLen).
inline constexpr std::size_t nonce_raw_size = 11;
inline constexpr std::size_t nonce_size = 15;

using key_bytes = std::array<std::uint8_t, key_size>;

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0), the nkey checksum.
std::uint16_t crc16(std::span<const std::uint8_t> data);

/// Base32, RFC 4648 alphabet, without padding.
std::string base32_encode(std::span<const std::uint8_t> data);
/// Inverse of base32_encode; nullopt on a character outside the alphabet,
/// padding, or a length no encoder produces.
std::optional<std::vector<std::uint8_t>> base32_decode(std::string_view text);

/// Base64url without padding (what nats-server uses for nonces and clients
/// for signatures).
std::string base64url_encode(std::span<const std::uint8_t> data);
/// Decodes base64url without padding or, failing that, standard base64 with
/// padding, the two forms nats-server accepts for `sig`. nullopt if neither.
std::optional<std::vector<std::uint8_t>> decode_signature(std::string_view text);

/// A decoded public key, or the reason it is not one.
struct decoded_key {
  key_bytes key{};
  std::string error;  ///< empty when the key is valid
  explicit operator bool() const { return error.empty(); }
};

/// Decodes a public key of the expected type. Errors name what is wrong
/// (encoding, length, prefix, checksum) without echoing the key.
decoded_key decode_public_key(std::string_view encoded, prefix expected);

/// True for a well-formed user public key ("U...").
bool is_valid_public_user_key(std::string_view encoded);

/// Encodes a public key of the given type.
std::string encode_public_key(prefix type, std::span<const std::uint8_t, key_size> key);

/// Encodes a seed (private key) for a key of the given public type: the
/// form a client keeps in its .nk file ("SU..." for a user).
std::string encode_seed(prefix public_type, std::span<const std::uint8_t, key_size> seed);

/// A decoded seed: its public type and the 32 seed bytes.
struct decoded_seed {
  prefix public_type = prefix::user;
  key_bytes seed{};
  std::string error;  ///< empty when valid
  explicit operator bool() const { return error.empty(); }
};
decoded_seed decode_seed(std::string_view encoded);

/// Ed25519 public key of a seed (via OpenSSL); nullopt if OpenSSL refuses.
std::optional<key_bytes> public_key_from_seed(std::span<const std::uint8_t, key_size> seed);

/// Ed25519 signature of `message` with `seed` (for tests and in-process
/// clients); empty on failure.
std::vector<std::uint8_t> sign(std::span<const std::uint8_t, key_size> seed, std::string_view message);

/// Verifies an Ed25519 signature with OpenSSL.
bool verify(std::span<const std::uint8_t, key_size> public_key, std::string_view message,
            std::span<const std::uint8_t> signature);

/// The whole CONNECT check: `nkey` is a valid user key, `sig` decodes, and it
/// is the key's signature over the nonce's ASCII bytes.
bool verify_nonce_signature(std::string_view user_nkey, std::string_view nonce, std::string_view sig);

/// A fresh nonce for INFO: nonce_raw_size random bytes (OpenSSL RAND_bytes),
/// base64url without padding. Thread-safe.
std::string generate_nonce();

}  // namespace courier::auth::nkeys
