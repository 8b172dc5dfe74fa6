#include "auth/nats_credentials.hpp"

#include <fstream>
#include <sstream>
#include <vector>

namespace courier::auth {
namespace {

std::string_view trim(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

/// "-----BEGIN ...-----" and "------END ...------": three dashes or more at
/// both ends (the shape nats.go's credentials pattern accepts).
bool is_dashed(std::string_view line) {
  return line.size() >= 6 && line.substr(0, 3) == "---" && line.substr(line.size() - 3) == "---";
}

bool read_whole_file(const std::string& path, std::string& text, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read '" + path + "'";
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return true;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    lines.push_back(trim(text.substr(0, newline)));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return lines;
}

/// The values between an opening and a closing dashed line, in order.
std::vector<std::string_view> decorated_values(const std::vector<std::string_view>& lines) {
  std::vector<std::string_view> values;
  for (std::size_t i = 0; i + 2 < lines.size(); ++i) {
    if (is_dashed(lines[i]) && !lines[i + 1].empty() && !is_dashed(lines[i + 1]) && is_dashed(lines[i + 2])) {
      values.push_back(lines[i + 1]);
      i += 2;
    }
  }
  return values;
}

bool use_seed(std::string_view encoded, const std::string& path, nats_credentials& out, std::string& error) {
  const auto seed = nkeys::decode_seed(encoded);
  if (!seed) {
    error = "'" + path + "': " + seed.error;
    return false;
  }
  if (seed.public_type != nkeys::prefix::user) {
    error = "'" + path + "': the seed is not a user seed (SU...)";
    return false;
  }
  const auto public_key = nkeys::public_key_from_seed(seed.seed);
  if (!public_key) {
    error = "'" + path + "': OpenSSL refused the seed";
    return false;
  }
  out.seed = seed.seed;
  out.public_key = nkeys::encode_public_key(nkeys::prefix::user, *public_key);
  return true;
}

}  // namespace

bool load_nkey_seed_file(const std::string& path, nats_credentials& out, std::string& error) {
  std::string text;
  if (!read_whole_file(path, text, error)) return false;
  const auto lines = lines_of(text);
  std::vector<std::string_view> candidates = decorated_values(lines);
  if (candidates.empty()) candidates = lines;  // a bare seed
  for (const auto candidate : candidates) {
    if (candidate.size() > 2 && candidate[0] == 'S') {
      out = nats_credentials{};
      return use_seed(candidate, path, out, error);
    }
  }
  error = "'" + path + "': no nkey seed (a line starting with SU)";
  return false;
}

bool load_credentials_file(const std::string& path, nats_credentials& out, std::string& error) {
  std::string text;
  if (!read_whole_file(path, text, error)) return false;
  const auto values = decorated_values(lines_of(text));
  if (values.size() < 2) {
    error = "'" + path + "': not a credentials file (a user JWT and an nkey seed, each between dashed lines)";
    return false;
  }
  if (values[0].find('.') == std::string_view::npos) {
    error = "'" + path + "': the first block is not a JWT";
    return false;
  }
  out = nats_credentials{};
  if (!use_seed(values[1], path, out, error)) return false;
  out.user_jwt = std::string(values[0]);
  return true;
}

std::string sign_nonce(const nats_credentials& credentials, std::string_view nonce) {
  const auto signature = nkeys::sign(credentials.seed, nonce);
  return nkeys::base64url_encode(signature);
}

}  // namespace courier::auth
