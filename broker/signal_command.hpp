// `--signal <command>[=<pid|pidfile>]`: sends a running server the signal
// for a command, as nats-server does (ldm, quit, stop, term, reopen, reload).
#pragma once

#include <string>

namespace courier::broker {

/// Sends the signal for `command` ("reload", "ldm=1234", "stop=/run/courier.pid").
/// Without a pid, uses `pid_file`, or else the one running courier/nats-server
/// process found in /proc. Prints errors to stderr; returns the exit status.
int send_signal_command(const std::string& command, const std::string& pid_file);

}  // namespace courier::broker
