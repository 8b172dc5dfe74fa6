#include "auth/password.hpp"

#include <string>

#include <crypt.h>
#include <gtest/gtest.h>

using courier::auth::check_password;
using courier::auth::constant_time_equals;
using courier::auth::is_bcrypt;

namespace {

/// A bcrypt hash of `password` made now with libxcrypt, at the lowest cost
/// so the tests stay fast. `variant` is the prefix, e.g. "$2b$".
std::string bcrypt_hash(const std::string& password, const char* variant = "$2b$") {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(variant, 4, nullptr, 0, setting, sizeof setting) == nullptr) return {};
  crypt_data data{};
  const char* hashed = crypt_rn(password.c_str(), setting, &data, sizeof data);
  return hashed ? std::string(hashed) : std::string();
}

}  // namespace

TEST(password, bcrypt_prefix_rule_is_nats_servers) {
  EXPECT_TRUE(is_bcrypt("$2a$11$abcdefghijklmnopqrstuv"));
  EXPECT_TRUE(is_bcrypt("$2b$04$"));
  EXPECT_TRUE(is_bcrypt("$2x$10$x"));
  EXPECT_TRUE(is_bcrypt("$2y$31$x"));
  EXPECT_FALSE(is_bcrypt("$2c$10$x"));   // unknown variant
  EXPECT_FALSE(is_bcrypt("$2b$1$x"));    // one digit
  EXPECT_FALSE(is_bcrypt("$2b$100$x"));  // three digits
  EXPECT_FALSE(is_bcrypt("$2b$ab$x"));
  EXPECT_FALSE(is_bcrypt("2b$10$x"));
  EXPECT_FALSE(is_bcrypt("$1$salt$hash"));  // md5-crypt is plain text to nats-server
  EXPECT_FALSE(is_bcrypt("s3cr3t"));
  EXPECT_FALSE(is_bcrypt(""));
}

TEST(password, plain_values_compare_exactly) {
  EXPECT_TRUE(check_password("s3cr3t", "s3cr3t"));
  EXPECT_FALSE(check_password("s3cr3t", "s3cr3T"));
  EXPECT_FALSE(check_password("s3cr3t", "s3cr3"));
  EXPECT_FALSE(check_password("s3cr3t", "s3cr3tt"));
  EXPECT_FALSE(check_password("s3cr3t", ""));
  EXPECT_TRUE(check_password("", ""));
  EXPECT_TRUE(constant_time_equals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(password, bcrypt_hashes_made_at_test_time_verify) {
  for (const char* variant : {"$2b$", "$2a$", "$2y$"}) {
    std::string hash = bcrypt_hash("correct horse", variant);
    ASSERT_FALSE(hash.empty()) << variant;
    ASSERT_TRUE(is_bcrypt(hash)) << hash;
    EXPECT_TRUE(check_password(hash, "correct horse")) << variant;
    EXPECT_FALSE(check_password(hash, "correct horsE")) << variant;
    EXPECT_FALSE(check_password(hash, "")) << variant;
    // The hash itself is not the password.
    EXPECT_FALSE(check_password(hash, hash)) << variant;
  }
}

TEST(password, bcrypt_edge_inputs_are_refused_not_crashed) {
  std::string hash = bcrypt_hash("pw");
  ASSERT_FALSE(hash.empty());
  EXPECT_FALSE(check_password(hash, std::string(1 << 20, 'x')));  // 1 MiB password
  EXPECT_FALSE(check_password(hash, std::string("pw\0junk", 7)));  // embedded NUL
  // Malformed bcrypt-looking configured values never match anything.
  EXPECT_FALSE(check_password("$2b$04$", "pw"));
  EXPECT_FALSE(check_password("$2b$04$tooshort", "pw"));
  EXPECT_FALSE(check_password("$2b$99$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz012", "pw"));
}
