// HMAC-SHA256 against RFC 4231 test vectors, and signature verification.
#include "mss/peers/webhook_signer.hpp"

#include <gtest/gtest.h>

namespace courier::mss {
namespace {

TEST(WebhookSigner, Rfc4231Vectors) {
  // Test case 1: key = 0x0b * 20, data = "Hi There".
  EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: key = "Jefe".
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size.
  EXPECT_EQ(hmac_sha256_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(WebhookSigner, HeaderAndVerification) {
  webhook_signing s;
  s.key = "secret";
  const auto [name, value] = sign_body(s, "{}");
  EXPECT_EQ(name, "X-Courier-Signature");
  EXPECT_EQ(value, "sha256=" + hmac_sha256_hex("secret", "{}"));
  EXPECT_TRUE(verify_signature(s, "{}", value));
  EXPECT_FALSE(verify_signature(s, "{ }", value));
  EXPECT_FALSE(verify_signature(s, "{}", value.substr(1)));
  s.prefix = "";
  EXPECT_EQ(sign_body(s, "{}").second.size(), 64u);
}

}  // namespace
}  // namespace courier::mss
