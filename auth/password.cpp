#include "auth/password.hpp"

#include <cstring>
#include <memory>

#include <crypt.h>
#include <openssl/crypto.h>

namespace courier::auth {

bool is_bcrypt(std::string_view value) {
  // ^\$2[abxy]\$\d{2}\$ : "$2", a variant letter, "$", two digits, "$".
  if (value.size() < 7) return false;
  if (value[0] != '$' || value[1] != '2') return false;
  if (value[2] != 'a' && value[2] != 'b' && value[2] != 'x' && value[2] != 'y') return false;
  if (value[3] != '$') return false;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return digit(value[4]) && digit(value[5]) && value[6] == '$';
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  // Length is not secret (nats-server's plain comparison leaks it too); the
  // contents are compared without an early exit.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool check_password(std::string_view configured, std::string_view offered) {
  if (!is_bcrypt(configured)) return constant_time_equals(configured, offered);

  // crypt_rn wants NUL-terminated strings; a NUL inside the offered password
  // would silently truncate it, so such a password cannot match.
  if (offered.find('\0') != std::string_view::npos || configured.find('\0') != std::string_view::npos) {
    return false;
  }
  // crypt_data is ~32 KiB: keep it off the (possibly small) coroutine stack.
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  std::string phrase(offered);
  std::string setting(configured);
  // crypt_rn returns null on failure (unknown method, malformed hash, or a
  // passphrase longer than CRYPT_MAX_PASSPHRASE_SIZE), never a "*" string.
  const char* hashed = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  if (hashed == nullptr) return false;
  return constant_time_equals(hashed, configured);
}

}  // namespace courier::auth
