// Why a connection closed: plain data shared by the transports, the
// connection, its protocol roles and the registry.
#pragma once

namespace courier::broker {

/// Why a connection closed (nats-server's ClosedState, the ones we produce).
enum class close_reason {
  client_closed,
  read_error,
  write_error,
  protocol_violation,
  parse_error,
  max_payload,
  max_control_line,
  slow_consumer_pending_bytes,
  slow_consumer_write_deadline,
  stale_connection,
  max_connections,
  authentication_timeout,
  authentication_violation,
  bad_client_protocol,
  server_shutdown,
  lame_duck,
  tls_handshake_error,
};

/// Text for logs and monitoring ("Client Closed", "Slow Consumer (Pending Bytes)", ...).
const char* to_string(close_reason reason);

/// The closes nats-server makes without flushing what is queued (nor, over
/// WebSocket, a close frame): closeConnection's skipFlushOnClose.
bool skips_flush_on_close(close_reason reason);

}  // namespace courier::broker
