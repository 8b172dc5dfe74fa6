// The `leafnodes { }` block of a nats-server 2.9.10 configuration: the
// remotes this server connects to as a leaf (soliciting side) and, later,
// the listener other leaves connect to (accepting side).
//
//   leafnodes {
//     reconnect: 1                         # seconds between attempts (nats-server 2.9.10
//                                          # takes an integer only; "1s" is also accepted here)
//     remotes = [
//       { urls: ["nats-leaf://user:pass@hub1:7422", "nats-leaf://hub2:7422"],
//         account: "APP" }                 # local account bound to the remote
//     ]
//   }
//
// Plain data plus its parser; the broker (broker/leaf/) acts on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <picojson.h>

namespace courier::conf {

/// One URL of a remote: nats-leaf://, nats:// or tls:// (TLS required).
struct leafnode_url {
  std::string host;
  std::uint16_t port = 7422;  ///< nats-server's DEFAULT_LEAFNODE_PORT
  std::string user;           ///< from user:password@ (may be empty)
  std::string password;
  bool tls = false;           ///< tls:// scheme
  /// "host:port", for logs and monitoring (credentials left out).
  std::string address() const { return host + ":" + std::to_string(port); }
};

/// One `remotes` entry.
struct leafnode_remote {
  std::vector<leafnode_url> urls;  ///< tried in turn, each after `reconnect`
  std::string account;             ///< local account bound to the remote; empty: the global one ($G)
  std::string credentials;         ///< a .creds file (user JWT + nkey seed), read at every connect
  bool tls = false;                ///< a `tls {}` block was given (or a tls:// URL)
  picojson::value tls_block;       ///< as parsed, null when absent
  /// Subjects not taken from the hub (no interest sent for them; the hub is
  /// told in CONNECT's deny_pub) and not sent to it.
  std::vector<std::string> deny_imports;
  std::vector<std::string> deny_exports;
};

/// A user a leaf connecting to this server may authenticate as
/// (`authorization { user, password, account }` or its `users` list).
struct leafnode_user {
  std::string user;
  std::string password;  ///< plain or bcrypt
  std::string account;   ///< the local account the leaf is bound to; empty: the global one
};

/// The whole block.
struct leafnode_settings {
  /// nats-server's DEFAULT_LEAF_NODE_RECONNECT: 1 s between attempts.
  std::chrono::milliseconds reconnect{1000};
  std::vector<leafnode_remote> remotes;
  // Accepting side.
  std::string host = "0.0.0.0";
  int port = 0;                  ///< 0: no listener (-1 in the file: a random port, kept as -1)
  std::string advertise;         ///< host:port announced in leafnode_urls
  picojson::value authorization;  ///< as parsed, null when absent
  std::vector<leafnode_user> users;  ///< from `authorization`; empty: no credentials asked
  /// `authorization.timeout`: how long an accepted leaf has to send CONNECT.
  std::chrono::milliseconds auth_timeout{2000};
  picojson::value tls_block;      ///< as parsed, null when absent
};

/// Parses "nats-leaf://user:pass@host:port" (also nats://, tls://; the port
/// defaults to 7422). Throws std::invalid_argument with nats-server's kind
/// of message on anything else.
leafnode_url parse_leafnode_url(std::string_view text);

/// Reads a `leafnodes` block. Throws std::invalid_argument naming the bad
/// field. A null value gives the defaults (no remotes, no listener).
leafnode_settings parse_leafnodes(const picojson::value& block);

}  // namespace courier::conf
