// The NATS client protocol on a connection: INFO and CONNECT,
// authentication, permissions, SUB/UNSUB/PUB/HPUB and delivery as MSG/HMSG.
// nats-server 2.9.10's behaviour byte for byte (docs/nats-behaviour.md).
//
// Thread rules: the parser callbacks, the connection_role hooks and the
// subscriptions map run on the connection's loop thread. deliver() runs on
// publishers' threads and touches only atomics, the identity's delivery
// filter and the connection's deliver(). Server events (reload, lame duck)
// are posted to the loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "broker/client_identity.hpp"
#include "broker/connection_role.hpp"
#include "protocol/parser.hpp"

namespace courier::broker {

class server;
struct client_connect;

/// A NATS client on a connection.
class client_protocol final : public connection_role {
 public:
  client_protocol(connection& owner, server& broker);

  // connection_role
  void on_start() override;
  void on_greeting() override;
  std::size_t on_bytes(const char* data, std::size_t size) override { return parser_.feed(data, size, *this); }
  void on_read_turn_end() override;
  void on_tick(clock::time_point now) override;
  void send_ping() override;
  void on_stale() override;
  void on_closed(close_reason reason) override;
  void refuse_over_limit() override;
  void on_auth_reload(std::shared_ptr<const auth::auth_config> config) override;
  void on_lame_duck() override;

  // subscriber
  void deliver(const subscription& sub, const message_view& message, flush_batch& batch) override;
  void subscription_done(const std::shared_ptr<subscription>& sub) override;
  bool echo() const override { return echo_.load(std::memory_order_relaxed); }

  // client_parser handler (loop thread)
  bool on_connect(std::string_view json);
  bool on_pub(std::string_view subject, std::string_view reply, std::string_view payload);
  bool on_hpub(std::string_view subject, std::string_view reply, std::string_view headers,
               std::string_view payload);
  void on_pub_line(std::string_view subject);
  bool on_info(std::string_view json);
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid);
  bool on_unsub(std::string_view sid, std::optional<std::uint64_t> max);
  bool on_ping();
  bool on_pong();
  void on_error(protocol::parse_error error, std::string_view snippet);

 private:
  bool publish(std::string_view subject, std::string_view reply, std::string_view headers,
               std::string_view payload);
  /// Checks the stored credentials; on failure -ERR and close.
  bool authenticate();
  /// Applies an accepted CONNECT; false (after -ERR and close) when refused.
  bool accept_connect(const client_connect& connect);
  /// Takes CONNECT's options and credentials (before authentication).
  void adopt_connect(const client_connect& connect);
  auth::client_credentials credentials_view() const;
  /// After a reload: removes subscriptions the new permissions refuse, each with an -ERR.
  void drop_refused_subscriptions();
  void apply_auth_reload(const auth::auth_config& config);
  void add_subscription(std::string_view subject, std::string_view queue, std::string_view sid);
  void remove_subscription(std::unordered_map<std::string, std::shared_ptr<subscription>>::iterator it);
  /// The INFO line for this client.
  std::string info_line(bool lame_duck) const;
  /// -ERR '<text>' (connection stays open), logged.
  void send_error(std::string_view text);
  /// -ERR '<text>', not logged (permission violations log their own line).
  void send_err_line(std::string_view text);
  /// -ERR '<text>' then close.
  void fail(std::string_view text, close_reason reason);
  void ok();
  const std::string& log_prefix() const;

  server& server_;
  protocol::client_parser<client_protocol> parser_;
  client_identity identity_;

  // CONNECT options; nats-server's defaults before CONNECT: verbose, pedantic, echo on.
  bool connect_received_ = false;
  bool verbose_ = true;
  bool pedantic_ = true;
  std::atomic<bool> echo_{true};      // read by publishers (server fan-out)
  std::atomic<bool> headers_{false};  // read by publishers (deliver)
  bool no_responders_ = false;
  int protocol_ = 0;

  /// The CONNECT credentials, kept to re-authenticate on a config reload.
  struct stored_credentials {
    std::string user, pass, auth_token, nkey, sig;
  } credentials_;
  bool awaiting_auth_ = false;  // auth required and CONNECT not yet accepted
  clock::time_point auth_deadline_{};
  std::string nonce_;           // sent in INFO when nkey users exist

  std::unordered_map<std::string, std::shared_ptr<subscription>> subscriptions_;  // by sid
  /// Published bytes since the last stall check (see publish()).
  std::size_t parsed_since_stall_check_ = 0;
};

}  // namespace courier::broker
