#include "auth/nkeys.hpp"

#include <set>

#include <gtest/gtest.h>
#include <openssl/evp.h>

namespace nk = courier::auth::nkeys;

namespace {

/// A fresh Ed25519 key pair made by OpenSSL for this test run.
struct test_keypair {
  nk::key_bytes seed{};
  nk::key_bytes public_key{};
};

test_keypair make_keypair() {
  test_keypair pair;
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  EXPECT_NE(key, nullptr);
  std::size_t length = pair.seed.size();
  EXPECT_EQ(EVP_PKEY_get_raw_private_key(key, pair.seed.data(), &length), 1);
  length = pair.public_key.size();
  EXPECT_EQ(EVP_PKEY_get_raw_public_key(key, pair.public_key.data(), &length), 1);
  EVP_PKEY_free(key);
  return pair;
}

std::string to_string(const std::vector<std::uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

std::string base64_std(const std::vector<std::uint8_t>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

TEST(nkeys, crc16_xmodem_check_value) {
  // The CRC catalogue's check value for CRC-16/XMODEM over "123456789".
  std::string text = "123456789";
  EXPECT_EQ(nk::crc16(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())), 0x31C3);
}

TEST(nkeys, base32_rfc4648_vectors_without_padding) {
  // RFC 4648 section 10 test vectors with the '=' padding removed.
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},         {"f", "MY"},         {"fo", "MZXQ"},           {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, encoded] : vectors) {
    std::vector<std::uint8_t> bytes(plain.begin(), plain.end());
    EXPECT_EQ(nk::base32_encode(bytes), encoded) << plain;
    auto decoded = nk::base32_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(to_string(*decoded), plain);
  }
  EXPECT_FALSE(nk::base32_decode("MZXW6==="));  // padding is not accepted
  EXPECT_FALSE(nk::base32_decode("mzxw6"));     // lower case is not the alphabet
  EXPECT_FALSE(nk::base32_decode("M"));         // lengths 1, 3, 6 mod 8 are impossible
  EXPECT_FALSE(nk::base32_decode("MZX"));
  EXPECT_FALSE(nk::base32_decode("MZXW6Y1"));   // '1' is not in the alphabet
}

TEST(nkeys, known_answer_from_reference_nkeys_library) {
  // Seed and public key pair from nats.go's own tests (nats_test.go uSeed and
  // the subject of uJWT); the signature of "abcdefghijklmno" was produced
  // with the Go nkeys library. Ed25519 signatures are deterministic.
  auto seed = nk::decode_seed("SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY");
  ASSERT_TRUE(seed) << seed.error;
  EXPECT_EQ(seed.public_type, nk::prefix::user);
  auto pub = nk::public_key_from_seed(seed.seed);
  ASSERT_TRUE(pub);
  EXPECT_EQ(nk::encode_public_key(nk::prefix::user, *pub), "UAT6BWCSCWLUKJT6K6MBJJOEOTXZ5AJDOYKNEVRFC7VNO6OA43N4TRNO");
  auto signature = nk::sign(seed.seed, "abcdefghijklmno");
  EXPECT_EQ(nk::base64url_encode(signature),
            "hs-yyvo78xZPrC9NtwVjnKp307se1Ysf3GMCa5jVSbmF35Td-jAA-dH3gxk3tEhAEGyFihWqiNLW4cJJyImIDQ");
  EXPECT_TRUE(nk::verify_nonce_signature(
      "UAT6BWCSCWLUKJT6K6MBJJOEOTXZ5AJDOYKNEVRFC7VNO6OA43N4TRNO", "abcdefghijklmno",
      "hs-yyvo78xZPrC9NtwVjnKp307se1Ysf3GMCa5jVSbmF35Td-jAA-dH3gxk3tEhAEGyFihWqiNLW4cJJyImIDQ"));
  // Round trip of the seed text.
  EXPECT_EQ(nk::encode_seed(nk::prefix::user, seed.seed), "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY");
}

TEST(nkeys, generated_keypair_encodes_signs_and_verifies) {
  auto pair = make_keypair();
  std::string user = nk::encode_public_key(nk::prefix::user, pair.public_key);
  ASSERT_EQ(user.size(), 56u);
  EXPECT_EQ(user[0], 'U');
  std::string seed = nk::encode_seed(nk::prefix::user, pair.seed);
  ASSERT_EQ(seed.size(), 58u);
  EXPECT_EQ(seed.substr(0, 2), "SU");

  auto decoded = nk::decode_public_key(user, nk::prefix::user);
  ASSERT_TRUE(decoded) << decoded.error;
  EXPECT_EQ(decoded.key, pair.public_key);
  auto decoded_seed = nk::decode_seed(seed);
  ASSERT_TRUE(decoded_seed) << decoded_seed.error;
  EXPECT_EQ(decoded_seed.seed, pair.seed);
  EXPECT_EQ(nk::public_key_from_seed(decoded_seed.seed), pair.public_key);

  std::string nonce = nk::generate_nonce();
  auto signature = nk::sign(pair.seed, nonce);
  ASSERT_EQ(signature.size(), nk::signature_size);
  EXPECT_TRUE(nk::verify_nonce_signature(user, nonce, nk::base64url_encode(signature)));
  EXPECT_TRUE(nk::verify_nonce_signature(user, nonce, base64_std(signature)));  // standard base64 accepted

  // Wrong message, altered signature, another key: all refused.
  EXPECT_FALSE(nk::verify_nonce_signature(user, nonce + "x", nk::base64url_encode(signature)));
  auto altered = signature;
  altered[10] ^= 0x01;
  EXPECT_FALSE(nk::verify_nonce_signature(user, nonce, nk::base64url_encode(altered)));
  auto other = make_keypair();
  EXPECT_FALSE(nk::verify_nonce_signature(nk::encode_public_key(nk::prefix::user, other.public_key), nonce,
                                          nk::base64url_encode(signature)));
  // Truncated signature, garbage text, empty.
  auto shorter = signature;
  shorter.pop_back();
  EXPECT_FALSE(nk::verify_nonce_signature(user, nonce, nk::base64url_encode(shorter)));
  EXPECT_FALSE(nk::verify_nonce_signature(user, nonce, "not base64 at all!"));
  EXPECT_FALSE(nk::verify_nonce_signature(user, nonce, ""));
}

TEST(nkeys, malformed_public_keys_have_clear_errors) {
  auto pair = make_keypair();
  std::string user = nk::encode_public_key(nk::prefix::user, pair.public_key);

  // Bad CRC: change one character of the key body (keeps the alphabet).
  std::string bad_crc = user;
  bad_crc[20] = bad_crc[20] == 'A' ? 'B' : 'A';
  auto r = nk::decode_public_key(bad_crc, nk::prefix::user);
  EXPECT_FALSE(r);
  EXPECT_NE(r.error.find("checksum"), std::string::npos) << r.error;

  // Right encoding, wrong type: an account key where a user key is expected.
  std::string account = nk::encode_public_key(nk::prefix::account, pair.public_key);
  EXPECT_EQ(account[0], 'A');
  r = nk::decode_public_key(account, nk::prefix::user);
  EXPECT_FALSE(r);
  EXPECT_NE(r.error.find("prefix"), std::string::npos) << r.error;
  EXPECT_TRUE(nk::decode_public_key(account, nk::prefix::account));

  // A seed is not a public key.
  r = nk::decode_public_key(nk::encode_seed(nk::prefix::user, pair.seed), nk::prefix::user);
  EXPECT_FALSE(r);

  // Bad length with a valid checksum: prefix + 31 bytes.
  std::vector<std::uint8_t> raw{static_cast<std::uint8_t>(nk::prefix::user)};
  raw.insert(raw.end(), pair.public_key.begin(), pair.public_key.end() - 1);
  auto crc = nk::crc16(raw);
  raw.push_back(static_cast<std::uint8_t>(crc & 0xff));
  raw.push_back(static_cast<std::uint8_t>(crc >> 8));
  r = nk::decode_public_key(nk::base32_encode(raw), nk::prefix::user);
  EXPECT_FALSE(r);
  EXPECT_NE(r.error.find("length"), std::string::npos) << r.error;

  // Not base32, truncated, empty, lower case.
  for (std::string bad : {std::string("U!!!"), user.substr(0, 30), std::string(), [&] {
         std::string lower = user;
         for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
         return lower;
       }()}) {
    r = nk::decode_public_key(bad, nk::prefix::user);
    EXPECT_FALSE(r) << bad;
    EXPECT_FALSE(r.error.empty());
    EXPECT_FALSE(nk::is_valid_public_user_key(bad));
  }
  EXPECT_TRUE(nk::is_valid_public_user_key(user));
  // A malformed configured key never verifies anything.
  auto signature = nk::sign(pair.seed, "nonce");
  EXPECT_FALSE(nk::verify_nonce_signature(bad_crc, "nonce", nk::base64url_encode(signature)));
}

TEST(nkeys, seed_errors) {
  auto pair = make_keypair();
  std::string seed = nk::encode_seed(nk::prefix::user, pair.seed);
  std::string bad = seed;
  bad[30] = bad[30] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(nk::decode_seed(bad));
  EXPECT_FALSE(nk::decode_seed(nk::encode_public_key(nk::prefix::user, pair.public_key)));
  auto account_seed = nk::decode_seed(nk::encode_seed(nk::prefix::account, pair.seed));
  ASSERT_TRUE(account_seed);
  EXPECT_EQ(account_seed.public_type, nk::prefix::account);
}

TEST(nkeys, nonce_has_nats_server_format) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string nonce = nk::generate_nonce();
    ASSERT_EQ(nonce.size(), nk::nonce_size);
    for (char c : nonce) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << nonce;
    }
    auto raw = nk::decode_signature(nonce);  // base64url decoder
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->size(), nk::nonce_raw_size);
    seen.insert(nonce);
  }
  EXPECT_EQ(seen.size(), 200u);
}
