// What monitoring may know about one connection, live or closed: plain data,
// copied out of a connection (connection::info) so that readers never hold
// anything of the data path.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "broker/close_reason.hpp"

namespace courier::broker {

/// How a client reached the server (nats-server's client type, /connz "type").
enum class client_type {
  nats,       ///< the NATS protocol on TCP or TLS
  websocket,  ///< the NATS protocol in WebSocket frames
};

/// "nats" or "websocket", as /connz shows it.
inline const char* to_string(client_type type) { return type == client_type::websocket ? "websocket" : "nats"; }

/// Who the peer said it is (CONNECT) and who authentication made it.
/// Written by the protocol role on the connection's loop, rarely.
struct connection_identity {
  std::string name;     ///< CONNECT "name"
  std::string lang;     ///< CONNECT "lang"
  std::string version;  ///< CONNECT "version"
  std::string user;     ///< authenticated user (or nkey); empty when none
  std::string account;  ///< the account it lives in
};

/// One subscription as a closed connection's snapshot keeps it.
struct subscription_info {
  std::string subject;
  std::string queue;
  std::string sid;
  std::uint64_t msgs = 0;  ///< delivered
  std::uint64_t max = 0;   ///< auto-unsubscribe limit; 0 = none
};

/// A snapshot of one connection (nats-server's ConnInfo, the fields we have).
struct connection_info {
  std::uint64_t cid = 0;
  bool in_process = false;  ///< an in-process client (no address, no transport)
  client_type type = client_type::nats;
  std::string remote_ip;
  std::uint16_t remote_port = 0;
  connection_identity identity;
  std::chrono::system_clock::time_point start{};          ///< when it was accepted
  std::chrono::system_clock::time_point last_activity{};  ///< last read from the peer
  std::chrono::nanoseconds rtt{0};                        ///< last PING/PONG round trip; 0 before one
  std::uint64_t msgs_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t msgs_out = 0;
  std::uint64_t bytes_out = 0;
  std::uint32_t subscriptions = 0;
  std::uint64_t pending_bytes = 0;  ///< queued and not yet written
  std::string tls_version;       ///< "1.3"; empty in clear text
  std::string tls_cipher_suite;  ///< "TLS_AES_128_GCM_SHA256"
  /// Its subscriptions when it closed (as nats-server lists them for
  /// /connz?state=closed&subs=1); empty while live (read the routers).
  std::vector<subscription_info> closed_subscriptions;
  /// Set once closed, with when.
  std::optional<close_reason> reason;
  std::chrono::system_clock::time_point stop{};
};

}  // namespace courier::broker
