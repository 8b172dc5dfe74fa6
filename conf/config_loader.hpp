// Maps a parsed nats-server configuration onto server_options.
//
// Top-level options Courier reads (names are case-insensitive, as in
// nats-server): listen, host/net, port, server_name, max_payload,
// max_pending, max_connections/max_conn, max_control_line,
// max_subscriptions/max_subs, ping_interval, ping_max, write_deadline,
// lame_duck_duration, lame_duck_grace_period, debug, trace, logtime,
// logfile/log_file, pidfile/pid_file, http_port/monitor_port (stored; there
// is no monitoring endpoint yet), no_auth_user. The blocks authorization,
// accounts, tls, mss and leafnodes (checked here by conf/leafnode_options)
// are stored as parsed for the parts that own them.
//
// Options nats-server 2.9.10 accepts that Courier does not implement are
// errors, "unsupported option", at their position (see
// unsupported_options() for the list); any other unknown key is
// `unknown field "x"`, as nats-server says, unless a $variable used it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/config_parser.hpp"
#include "conf/options.hpp"

namespace courier::conf {

/// Reads the file at path into out: options present in the file replace
/// out's values; out.config_file, document, config_source and
/// config_warnings are set. Throws config_error listing every problem, each
/// "file:line:col: message", sorted by position.
void load_config_file(const std::string& path, server_options& out);

/// The same for text held in memory (tests, embedding). source_name names it
/// in messages; includes resolve relative to base_dir.
void load_config_string(std::string_view text, server_options& out, const std::string& source_name = "",
                        const std::string& base_dir = ".");

/// The mapping step alone, for a document parsed elsewhere.
void apply_config(const config_document& document, server_options& out);

/// Checks between options, once everything is applied (nats-server's
/// validateOptions): max_payload <= max_pending, lame_duck_grace_period <
/// lame_duck_duration. Throws config_error. The loaders call it; call it
/// again after changing options by hand.
void validate_options(const server_options& options);

/// The top-level options nats-server 2.9.10 accepts and Courier refuses,
/// lower case, aliases included.
const std::vector<std::string_view>& unsupported_options();

}  // namespace courier::conf
