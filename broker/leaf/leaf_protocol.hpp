// The leafnode protocol on a connection (nats-server 2.9.10's LEAF kind),
// beside client_protocol on the same connection class: INFO/CONNECT with
// the leaf fields, interest as LS+/LS- per account, messages as LMSG/HMSG
// with reply and queue names, PING/PONG, loop detection and the -ERRs.
//
// The peer's interest becomes subscriptions in the bound account's router,
// one per subject (and queue group), marked remote_interest: fan-out hands
// this role each matching message once (deliver_remote), with the queue
// groups it picked this connection for. This side's interest reaches the
// peer through leaf_interest (broker/leaf/leaf_interest.hpp).
//
// Soliciting side (this server is the spoke, a remote in `leafnodes`): the
// hub speaks first (INFO); this side answers CONNECT, then its interest.
//
// Thread rules: parsing, the connection_role hooks and the subscriptions
// map run on the connection's loop thread. deliver_remote() runs on
// publishers' threads and touches only the connection's deliver().
// send_interest() runs on any thread (leaf_interest, under its lock).
#pragma once

#include "auth/subject_pattern_set.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/connection_role.hpp"
#include "protocol/leaf_parser.hpp"

namespace courier::broker {

class server;
struct account;
class leaf_interest;
class leaf_remote;

/// What monitoring shows of a leaf connection (nats-server's LeafInfo).
struct leaf_snapshot {
  std::string name;      ///< the peer's server name
  bool is_spoke = false; ///< this server is the spoke (it solicited)
  std::string account;
  std::string ip;
  std::uint16_t port = 0;
  std::int64_t rtt_ns = 0;
  std::uint64_t msgs_in = 0, msgs_out = 0, bytes_in = 0, bytes_out = 0;
  std::vector<std::string> subscriptions;  ///< the peer's interest, "subject" or "subject queue"
};

/// The leafnode protocol on one connection.
class leaf_protocol final : public connection_role {
 public:
  /// Soliciting side: `remote` made the connection and hears of its end;
  /// `user`/`password` come from the URL used.
  leaf_protocol(connection& owner, server& broker, account& bound, leaf_interest& interest,
                std::shared_ptr<leaf_remote> remote, std::string user, std::string password);
  /// Accepting side (this server is the hub): the peer's CONNECT says who
  /// it is, and its credentials which account it is bound to.
  leaf_protocol(connection& owner, server& broker);

  /// The soliciting side runs over TLS (said in CONNECT). Before start.
  void set_tls(bool tls) { tls_ = tls; }

  // connection_role
  /// A leaf is stalled above half of max_pending, never cut off for it
  /// (nats-server's queueOutbound checks max_pending for CLIENTs only).
  bool cut_off_over_max_pending() const override { return false; }
  void on_start() override;
  void on_greeting() override;
  std::size_t on_bytes(const char* data, std::size_t size) override { return parser_.feed(data, size, *this); }
  void on_read_turn_end() override;
  void on_tick(clock::time_point now) override;
  void send_ping() override;
  void on_stale() override;
  void on_closed(close_reason reason) override;
  void refuse_over_limit() override;
  void on_auth_reload(std::shared_ptr<const auth::auth_config>) override {}
  void on_lame_duck() override {}

  // subscriber
  void deliver(const subscription& sub, const message_view& message, flush_batch& batch) override;
  void deliver_remote(const message_view& message, const std::vector<std::string_view>& queues,
                      flush_batch& batch) override;
  void subscription_done(const std::shared_ptr<subscription>&) override {}
  /// A leaf never gets its own messages back (nats-server: leaves are no-echo).
  bool echo() const override { return false; }

  /// True on a connection this server solicited: it is the spoke, the peer the hub.
  bool we_are_spoke() const { return remote_ != nullptr; }
  /// Queues interest lines (LS+/LS-) for the peer. Any thread.
  void send_interest(std::string_view lines);
  /// For /leafz. Any thread.
  leaf_snapshot snapshot() const;
  /// Past the handshake (CONNECT sent or accepted): its interest flows. Any thread.
  bool set_up() const { return set_up_.load(std::memory_order_acquire); }

  // leaf_parser handler (loop thread)
  bool on_info(std::string_view json);
  bool on_connect(std::string_view json);
  bool on_ping();
  bool on_pong();
  bool on_ok() { return true; }
  bool on_err(std::string_view text);
  bool on_interest_add(std::string_view subject, std::string_view queue, std::int32_t weight);
  bool on_interest_remove(std::string_view subject, std::string_view queue);
  bool on_message(const protocol::leaf_message& message);
  void on_parse_error(protocol::leaf_parse_error error, std::string_view snippet);

 private:
  /// The CONNECT this side sends after the hub's first INFO.
  /// `jwt` and `sig`: from the remote's credentials file, empty without one.
  std::string connect_line(const std::string& jwt, const std::string& sig) const;
  /// Starts the interest flow both ways, once the handshake is done.
  void set_up_interest();
  /// Accepting side: checks CONNECT's credentials against leafnodes
  /// authorization; the account to bind, or null (after -ERR and close).
  account* authenticate(const std::string& user, const std::string& password);
  /// -ERR then close.
  void fail(std::string_view text, close_reason reason);
  /// The peer's interest came back as our own loop subject.
  void on_loop_detected();
  const std::string& log_prefix() const;
  std::string peer_name_copy() const;

  server& server_;
  // Set at construction (soliciting side) or by an accepted CONNECT; fixed
  // from then on (publishers read them only through subscriptions made after).
  account* account_ = nullptr;
  leaf_interest* interest_ = nullptr;
  std::shared_ptr<leaf_remote> remote_;  // null on the accepting side
  /// Subjects whose messages are not sent to the peer: our deny_exports
  /// (soliciting side), or the peer's deny_pub from its CONNECT (accepting
  /// side). Set before the connection is set up, then read by publishers.
  auth::subject_pattern_set deny_out_;
  /// Soliciting side, our deny_imports: no interest sent for them, their
  /// messages dropped. Set at construction.
  auth::subject_pattern_set deny_in_;
  std::string user_, password_;
  protocol::leaf_parser<leaf_protocol> parser_;

  bool info_received_ = false;
  bool attached_ = false;  // interest_ knows this connection
  bool tls_ = false;       // the soliciting side runs over TLS
  std::atomic<bool> set_up_{false};  // attached_, for other threads
  clock::time_point connect_deadline_{};  // accepting side: CONNECT due by then
  bool peer_headers_ = true;  // written before any interest exists, then read by publishers
  bool loop_detected_ = false;
  clock::time_point info_deadline_{};
  /// The peer's interest: one subscription per "subject[ queue]".
  std::unordered_map<std::string, std::shared_ptr<subscription>> subscriptions_;

  mutable std::mutex peer_mutex_;
  std::string peer_name_;  // lock: peer_mutex_
};

}  // namespace courier::broker
