// The `notifications { }` block of `mss`: where the notification gateway
// listens, how it authorizes a session, where notifications come from and
// how many it keeps.
//
//   mss {
//     notifications {
//       listen: "127.0.0.1:8095"        host:port (port 0: any free port)
//       path: "/notifications"          the WebSocket's path (default "/")
//       tls { cert_file, key_file }     wss:// (the client-port tls block's keys)
//       subject_prefix: "wss"           <prefix>.<user> and <prefix>.all
//       broadcast: "all"                the token after the prefix meaning everyone
//       authorize { url: "http://...", timeout: "2s", verify: true, ca_file: "..." }
//       authorize { users: true }      or: the embedded server's users and passwords
//       max_per_user: 100               kept per user (and broadcast)
//       store: "/var/lib/courier/notifications.jsonl"   kept across restarts
//       page_limit: 100                 most a `list` returns at once
//       max_message: 65536              largest request frame, bytes
//       max_pending: 1048576            bytes queued for a slow session before it is closed
//       handshake_timeout: "10s"        TCP accept to upgraded (TLS included)
//       max_sessions: 10000
//     }
//   }
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <picojson.h>

#include "auth/tls_config.hpp"
#include "mss/config/handler_config.hpp"

namespace courier::mss::notify {

struct gateway_config {
  std::string host = "127.0.0.1";
  int port = 8095;
  std::string path = "/";
  bool tls = false;
  auth::tls_settings tls_settings;
  std::string subject_prefix = "wss";
  std::string broadcast = "all";
  std::string authorize_url;
  bool authorize_users = false;  ///< check user/password against the embedded server's users
  std::chrono::milliseconds authorize_timeout{5000};
  bool authorize_verify = true;
  std::string authorize_ca_file;
  std::size_t max_per_user = 100;
  std::string store;
  std::size_t page_limit = 100;
  std::size_t max_message = 64 * 1024;
  std::size_t max_pending = 1024 * 1024;
  std::chrono::milliseconds handshake_timeout{10000};
  std::size_t max_sessions = 10000;
};

/// Reads a `notifications` block. On a mistake sets `fault` (path relative
/// to the block) and returns false.
bool parse_gateway_config(const picojson::value& block, gateway_config& out, config_fault& fault);

}  // namespace courier::mss::notify
