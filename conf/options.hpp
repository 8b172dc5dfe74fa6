// Server options: the settings of nats-server 2.9.10 that Courier accepts,
// with its defaults. Filled from the config file (conf/config_loader) and the
// command line (conf/command_line); the command line wins.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <picojson.h>

#include "conf/config_error.hpp"

namespace courier::conf {

struct config_document;  // conf/config_parser.hpp

/// TLS settings given as flags (--tls, --tlsverify, --tlscert, --tlskey,
/// --tlscacert). As in nats-server, they override the config file's `tls`
/// block when any of them is given.
struct tls_flag_settings {
  bool given = false;        ///< some --tls* flag appeared
  bool enabled = false;      ///< --tls (or --tlsverify); --tls=false turns TLS off
  bool verify = false;       ///< --tlsverify: require and verify client certificates
  std::string cert_file;     ///< --tlscert
  std::string key_file;      ///< --tlskey
  std::string ca_file;       ///< --tlscacert
};

/// The `websocket {}` block (nats-server 2.9.10 WebsocketOpts): NATS clients
/// over WebSocket on a listener of their own. Off while `port` is 0.
struct websocket_options {
  std::string host;          ///< `host`, `net`, `listen`; the default host when empty
  int port = 0;              ///< `port`, `listen`; 0 = off, -1 = pick one
  std::string advertise;     ///< `advertise`: the host:port told to clients in a cluster (kept, unused alone)
  bool no_tls = false;       ///< `no_tls`: serve ws:// without a tls block
  picojson::value tls;       ///< `tls {}`: serve wss://; null when absent
  bool same_origin = false;  ///< `same_origin`: Origin must match the request's Host
  std::vector<std::string> allowed_origins;  ///< `allowed_origins`: "scheme://host[:port]" accepted as Origin
  bool compression = false;  ///< `compression`: permessage-deflate when the client asks for it
  /// `handshake_timeout`: time allowed for the HTTP upgrade request (a
  /// number of seconds or a duration string); 0 = none, as nats-server.
  std::chrono::milliseconds handshake_timeout{0};
  // `authorization {}`: overrides the server's single user, token and
  // no_auth_user for WebSocket clients (users and nkeys stay the server's).
  std::string username;
  std::string password;
  std::string token;
  double auth_timeout_seconds = 0;  ///< `authorization.timeout`; 0 = the server's
  std::string no_auth_user;         ///< `no_auth_user`
  std::string jwt_cookie;           ///< `jwt_cookie` (needs operators, which Courier has not)

  /// The listener is on.
  bool enabled() const { return port != 0; }
  /// Some authorization setting overrides the server's for WebSocket clients.
  bool auth_override() const { return !username.empty() || !token.empty() || !no_auth_user.empty(); }
};

/// Everything the broker needs to start. Defaults are nats-server 2.9.10's
/// (server/const.go), so an empty config behaves like `nats-server`.
struct server_options {
  std::string config_file;              ///< the file these came from, if any
  std::string host = "0.0.0.0";         ///< listen address (`-a`, `host`, `net`, `listen`)
  int port = 4222;                      ///< listen port; 0 = pick one; -1 = no listener
  std::string server_name;              ///< `-n`, `server_name`; default: the server id

  std::int64_t max_payload = 1024 * 1024;      ///< MAX_PAYLOAD_SIZE, 1 MiB
  std::int64_t max_pending = 64 * 1024 * 1024; ///< MAX_PENDING_SIZE, 64 MiB per client
  int max_connections = 64 * 1024;             ///< DEFAULT_MAX_CONNECTIONS
  std::int64_t max_control_line = 4096;        ///< MAX_CONTROL_LINE_SIZE
  int max_subscriptions = 0;                   ///< 0 = unlimited
  std::chrono::milliseconds ping_interval{2 * 60 * 1000};  ///< DEFAULT_PING_INTERVAL, 2 min
  int ping_max = 2;                                        ///< DEFAULT_PING_MAX_OUT
  std::chrono::milliseconds write_deadline{10 * 1000};     ///< DEFAULT_FLUSH_DEADLINE, 10 s
  std::chrono::milliseconds lame_duck_duration{2 * 60 * 1000};  ///< DEFAULT_LAME_DUCK_DURATION
  std::chrono::milliseconds lame_duck_grace_period{10 * 1000};  ///< DEFAULT_LAME_DUCK_GRACE_PERIOD
  // Monitoring (monitor/): nats-server's HTTP endpoints.
  std::string http_host;          ///< `http: "host:port"`; empty = the client listen host
  std::int64_t http_port = 0;     ///< `-m`, `http_port`, `http`; 0 = off (-1: pick one)
  std::int64_t https_port = 0;    ///< `-ms`, `https_port`, `https` (needs the tls block)
  std::string http_base_path;     ///< `http_base_path`: prefix of every endpoint path
  std::string system_account = "$SYS";  ///< `system_account`

  bool debug = false;       ///< `-D`, `debug`
  bool trace = false;       ///< `-V`, `trace`
  bool logtime = true;      ///< `logtime`
  std::string log_file;     ///< `-l`, `logfile`
  std::string pid_file;     ///< `-P`, `pidfile`

  /// Worker event loops; 0 = one per two cores, at least one
  /// (broker::default_loop_count). Not a nats-server option.
  int threads = 0;
  /// Streaming producers (plain TCP): after two read turns in a row of 32
  /// KiB or more the socket wakes its loop only once this many bytes wait, for at most
  /// stream_low_water_hold, which is then the longest the end of a stream
  /// waits to be read. 0 = wake for every byte, as nats-server. Not
  /// nats-server options.
  int stream_low_water = 256 * 1024;
  std::chrono::microseconds stream_low_water_hold{200};

  /// Blocks other parts of Courier read for themselves (authorization,
  /// accounts, tls, mss...), kept as parsed. Null when absent.
  picojson::value authorization;
  picojson::value accounts;
  picojson::value tls;
  picojson::value mss;
  /// `websocket {}` (or `ws {}`).
  websocket_options websocket;
  /// `leafnodes { }` (conf/leafnode_options.hpp reads it), null when absent.
  picojson::value leafnodes;
  /// The whole parsed file, for parts that need more.
  picojson::value document;

  // --- added by conf/ (config loader and command line) ---

  /// `no_auth_user`: the user a connection without credentials becomes.
  std::string no_auth_user;
  /// `--user`, `--pass`, `--auth` flags (nats-server lets them override the
  /// authorization block's user/password/token). Empty when not given.
  std::string username;
  std::string password;
  std::string authorization_token;
  /// `--tls*` flags.
  tls_flag_settings tls_flags;
  /// `allow_non_tls`: with a tls block, plain clients are accepted too.
  bool allow_non_tls = false;
  /// `--mss-only <url>`. Not a nats-server option.
  std::string mss_only_url;
  /// Non-fatal remarks about the file (print with to_string(): "file:line:col:
  /// ..."), e.g. a duration written as bare seconds. nats-server prints them
  /// and starts; `-t` fails on them.
  std::vector<config_problem> config_warnings;
  /// The parsed file with the position of every key, so that the parts that
  /// read `authorization`, `accounts`, `tls` and `mss` can report errors as
  /// "file:line:col: ...". Null when no file was read.
  std::shared_ptr<const config_document> config_source;
};

}  // namespace courier::conf
