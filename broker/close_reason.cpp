#include "broker/close_reason.hpp"

namespace courier::broker {

bool skips_flush_on_close(close_reason reason) {
  switch (reason) {
    case close_reason::read_error:
    case close_reason::write_error:
    case close_reason::slow_consumer_pending_bytes:
    case close_reason::slow_consumer_write_deadline:
    case close_reason::tls_handshake_error:
      return true;
    default:
      return false;
  }
}

const char* to_string(close_reason reason) {
  switch (reason) {
    case close_reason::client_closed: return "Client Closed";
    case close_reason::read_error: return "Read Error";
    case close_reason::write_error: return "Write Error";
    case close_reason::protocol_violation: return "Protocol Violation";
    case close_reason::parse_error: return "Parse Error";
    case close_reason::max_payload: return "Maximum Message Payload Exceeded";
    case close_reason::max_control_line: return "Maximum Control Line Exceeded";
    case close_reason::slow_consumer_pending_bytes: return "Slow Consumer (Pending Bytes)";
    case close_reason::slow_consumer_write_deadline: return "Slow Consumer (Write Deadline)";
    case close_reason::stale_connection: return "Stale Connection";
    case close_reason::max_connections: return "Maximum Connections Exceeded";
    case close_reason::authentication_timeout: return "Authentication Timeout";
    case close_reason::authentication_violation: return "Authentication Failure";
    case close_reason::bad_client_protocol: return "Bad Client Protocol Version";
    case close_reason::server_shutdown: return "Server Shutdown";
    case close_reason::lame_duck: return "Lame Duck Mode";
    case close_reason::tls_handshake_error: return "TLS Handshake Failure";
  }
  return "Unknown";
}

}  // namespace courier::broker
