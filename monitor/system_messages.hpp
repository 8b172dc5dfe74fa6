// The documents the system account sends, as nats-server 2.9.10 writes them
// (server/events.go): the "server" object every message carries, statsz,
// the client_connect / client_disconnect / account_connections advisories
// and the API response envelope. Pure builders over snapshots, compact JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker/connection_info.hpp"
#include "monitor/json_writer.hpp"

namespace courier::broker {
class server;
}

namespace courier::monitor {

/// Advisory "type" values.
inline constexpr std::string_view connect_event_type = "io.nats.server.advisory.v1.client_connect";
inline constexpr std::string_view disconnect_event_type = "io.nats.server.advisory.v1.client_disconnect";
inline constexpr std::string_view account_connections_type = "io.nats.server.advisory.v1.account_connections";

/// Writes the ServerInfo object ({"name","host","id","ver","seq","jetstream","time"})
/// as the value of the current key.
void write_server_info(json_writer& out, const broker::server& server, std::uint64_t seq,
                       std::chrono::system_clock::time_point now);

/// A ServerStatsMsg: {"server":{...},"statsz":{...}}.
std::string statsz_message(broker::server& server, std::uint64_t seq, std::chrono::system_clock::time_point now);

/// A ServerAPIResponse around an endpoint's compact document: {"server":{...},"data":<document>}.
std::string data_response(const broker::server& server, std::uint64_t seq, std::chrono::system_clock::time_point now,
                          std::string_view document);
/// A ServerAPIResponse carrying an error. `with_null_data`: nats-server
/// writes "data":null before the error when the endpoint itself failed (a
/// typed nil), and no data at all when the request did not decode.
std::string error_response(const broker::server& server, std::uint64_t seq, std::chrono::system_clock::time_point now,
                           int code, std::string_view description, bool with_null_data);

/// An account's traffic and connections (AccountStat).
struct account_stat {
  std::string account;
  std::uint64_t conns = 0;
  std::uint64_t leafnodes = 0;  ///< leaf connections bound to the account
  std::uint64_t msgs_sent = 0, bytes_sent = 0, msgs_received = 0, bytes_received = 0;
  std::uint64_t slow_consumers = 0;
};
/// AccountStat's members (acc, conns, leafnodes, total_conns, sent, received, slow_consumers).
void write_account_stat(json_writer& out, const account_stat& stat);

/// A nuid-like event id: 22 characters of base 62.
std::string event_id();

/// The client_connect advisory for `client`.
std::string connect_advisory(const broker::server& server, std::uint64_t seq, std::chrono::system_clock::time_point now,
                             const std::string& id, const broker::connection_info& client);
/// The client_disconnect advisory for `client` (its final snapshot).
std::string disconnect_advisory(const broker::server& server, std::uint64_t seq,
                                std::chrono::system_clock::time_point now, const std::string& id,
                                const broker::connection_info& client);
/// The account_connections advisory.
std::string account_connections_advisory(const broker::server& server, std::uint64_t seq,
                                         std::chrono::system_clock::time_point now, const std::string& id,
                                         std::chrono::system_clock::time_point stamp, const account_stat& stat);

}  // namespace courier::monitor
