// Every live connection of a server, and the most recently closed ones, for
// the server's own bookkeeping (shutdown, reload, lame duck) and for
// monitoring (nats-server's /connz, including state=closed).
//
// Thread rules: every method is safe from any thread. One mutex guards the
// maps; it is held only to insert, erase or copy pointers and finished
// snapshots, never across I/O and never on the per-message path (which
// does not touch the registry at all). Snapshots of live connections read
// each connection's counters (atomics) outside the lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/close_reason.hpp"
#include "broker/connection_info.hpp"

namespace courier::broker {

class connection;
class local_client;

/// Messages and bytes summed over connections (nats-server's /varz
/// in_msgs, out_bytes...), and how many of them are live. The registry
/// adds a connection's counters to its closed sums once, as it closes
/// (never per message).
struct traffic_totals {
  std::uint64_t live_connections = 0;
  std::uint64_t msgs_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t msgs_out = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t closed_connections = 0;  ///< connections closed so far
};

/// The server's connections, live and recently closed.
class connection_registry {
 public:
  /// Closed connections kept for monitoring, oldest dropped first
  /// (nats-server keeps 10,000 for /connz?state=closed).
  static constexpr std::size_t max_closed = 10000;

  /// Registers a live connection, unless `limit` (> 0) are live already.
  bool add(std::shared_ptr<connection> client, std::int64_t limit);
  /// Moves a connection that just closed to the closed list, with its
  /// final counters and `reason`, and returns what it recorded. Unknown ids
  /// (refused over the limit) are not recorded (nothing returned). Called
  /// on the connection's loop.
  std::optional<connection_info> on_closed(connection& client, close_reason reason);
  /// The live connections (pointers copied under the lock).
  std::vector<std::shared_ptr<connection>> live() const;
  /// How many are live.
  std::size_t live_count() const;
  /// Snapshots of the live connections, by ascending cid.
  std::vector<connection_info> open_info() const;
  /// Snapshots of the closed connections, oldest first.
  std::vector<connection_info> closed_info() const;
  /// Server totals (nats-server's /varz): every connection's traffic, live
  /// and closed, read from the counters without snapshotting connections.
  traffic_totals all_traffic() const;
  /// The closed connections' sums per account name ("" for connections
  /// closed before CONNECT); live_connections is 0.
  std::map<std::string, traffic_totals, std::less<>> closed_by_account() const;
  /// Connections closed so far, per reason.
  std::map<close_reason, std::uint64_t> closed_by_reason() const;
  /// open_info() and closed_by_account() taken together: each connection
  /// is counted in exactly one of them, so live + closed sums never count a
  /// connection closing meanwhile twice, nor miss it.
  std::vector<connection_info> open_info(std::map<std::string, traffic_totals, std::less<>>& closed) const;
  /// Forgets every live connection (after shutdown closed them).
  void clear_live();

  /// Registers an in-process client (held weakly: the application owns it).
  void add_local(const std::shared_ptr<local_client>& client);
  /// Moves an in-process client that is closing to the closed list.
  void on_local_closed(const local_client& client, close_reason reason);
  /// The in-process clients still alive; forgets those that are gone.
  std::vector<std::shared_ptr<local_client>> live_local();

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<connection>> live_;  // lock: mutex_
  std::unordered_map<std::uint64_t, std::weak_ptr<local_client>> local_;  // lock: mutex_
  std::deque<connection_info> closed_;                                   // lock: mutex_
  traffic_totals closed_totals_;                                         // lock: mutex_
  std::map<std::string, traffic_totals, std::less<>> account_totals_;   // lock: mutex_
  std::map<close_reason, std::uint64_t> closed_reasons_;                // lock: mutex_
  /// Adds to the closed sums, appends to closed_, dropping the oldest past
  /// max_closed. Lock held.
  void remember_closed(connection_info info);
};

}  // namespace courier::broker
