// nats-server's command line (plus Courier's own flags), with its rules:
// flags start with one or two dashes; a value follows as `-p 4222`,
// `-p=4222` or `--port=4222`; boolean flags take no separate value, only
// `-D` or `-D=false`; the first argument that is not a flag ends the flags,
// and may be `version` or `help`. Flags override the config file.
//
// Flags Courier accepts: -a/--addr/--net, -p/--port, -n/--name/--server_name,
// -c/--config, -t, -P/--pid, -l/--log, -D/--debug, -V/--trace, -VV, -DV,
// -DVV, -T/--logtime, -m/--http_port, -v/--version, -h/--help,
// -sl/--signal, --user, --pass, --auth, --tls, --tlscert, --tlskey,
// --tlscacert, --tlsverify; Courier's own --threads and --mss-only.
// -VV and -DVV equal -V and -DV: Courier has no system account to trace.
// The other nats-server 2.9.10 flags (-ms, --client_advertise,
// --ports_file_dir, -s, -r, --log_size_limit, --max_traced_msg_len, -js,
// -sd, --routes, --cluster*, --no_advertise, --connect_retries, --profile,
// --help_tls) are refused as unsupported.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/options.hpp"

namespace courier::conf {

/// What the command line asks for.
struct command_line {
  /// Defaults, then the config file (-c), then the flags.
  server_options options;
  bool test_config = false;  ///< -t: check the config file and exit
  bool show_version = false; ///< -v, --version, or the word `version`
  bool show_help = false;    ///< -h, --help, or the word `help`
  /// --signal as given, "command[=pid]"; empty when absent. When set,
  /// the config file is not read (as in nats-server): send and exit.
  std::string signal;
  std::string signal_command;  ///< ldm, stop, quit, term, reopen or reload
  std::string signal_pid;      ///< a pid, a pid file's path, or empty (find the process)
  /// The arguments parsed, kept for reload_options().
  std::vector<std::string> arguments;
};

/// Parses args (without the program name). When help or version is asked
/// for, returns at once without reading the config file. Throws
/// config_error on a bad flag (nats-server's wording: "flag provided but
/// not defined: -x", "invalid value \"abc\" for flag -p: parse error",
/// "flag needs an argument: -p") or a bad config file; also when -t is
/// given without -c, or with a file that draws warnings.
command_line parse_command_line(const std::vector<std::string>& args);

/// Same, from main()'s arguments (argv[0] is skipped).
command_line parse_command_line(int argc, const char* const* argv);

/// Options for a reload (SIGHUP, `--signal reload`): the config file read
/// again, then the same flags applied on top, as nats-server does. Throws
/// config_error when the file is now broken (keep the running options).
server_options reload_options(const command_line& original);

/// The usage text for -h, naming the program as given.
std::string usage_text(std::string_view program = "courier");

}  // namespace courier::conf
