#include "auth/credentials.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace courier::auth {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

/// "-----BEGIN NATS USER JWT-----" and the like: dashes at both ends.
bool is_marker(std::string_view line) {
  return line.size() >= 6 && line.starts_with("---") && line.ends_with("---");
}

/// The contents of the marked blocks, in order: for each opening marker, the
/// first non-empty line after it; the rest up to the closing marker is skipped,
/// so every marker the outer loop meets opens a block.
std::vector<std::string_view> marked_blocks(std::string_view text) {
  std::vector<std::string_view> blocks;
  bool inside = false;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (is_marker(line)) {
      inside = true;
      continue;
    }
    if (inside && !line.empty()) {
      blocks.push_back(line);
      inside = false;
      while (!text.empty()) {
        const auto next = text.find('\n');
        const std::string_view closing = trim(text.substr(0, next));
        text = next == std::string_view::npos ? std::string_view{} : text.substr(next + 1);
        if (is_marker(closing)) break;
      }
    }
  }
  return blocks;
}

}  // namespace

std::string user_credentials::sign_nonce(std::string_view nonce) const {
  const std::vector<std::uint8_t> signature = nkeys::sign(seed, nonce);
  if (signature.empty()) throw std::runtime_error("credentials: could not sign the server's nonce");
  return nkeys::base64url_encode(signature);
}

user_credentials parse_credentials(std::string_view text) {
  const std::vector<std::string_view> blocks = marked_blocks(text);
  if (blocks.empty()) throw std::runtime_error("no user JWT found (expected a -----BEGIN NATS USER JWT----- block)");
  if (blocks.size() < 2) throw std::runtime_error("no nkey seed found after the JWT");
  const nkeys::decoded_seed decoded = nkeys::decode_seed(blocks[1]);
  if (!decoded) throw std::runtime_error("the nkey seed is not valid: " + decoded.error);
  if (decoded.public_type != nkeys::prefix::user) throw std::runtime_error("the nkey seed is not a user seed (\"SU...\")");
  // A JWT is three base64url parts separated by dots.
  const std::string_view jwt = blocks[0];
  if (std::count(jwt.begin(), jwt.end(), '.') != 2) throw std::runtime_error("the user JWT is not a JWT (three dot-separated parts)");
  user_credentials credentials;
  credentials.jwt = std::string(jwt);
  credentials.seed = decoded.seed;
  return credentials;
}

user_credentials load_credentials(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("credentials file \"" + path + "\": cannot be read");
  std::ostringstream contents;
  contents << in.rdbuf();
  try {
    return parse_credentials(contents.str());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("credentials file \"" + path + "\": " + e.what());
  }
}

}  // namespace courier::auth
