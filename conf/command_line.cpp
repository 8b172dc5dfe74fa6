#include "conf/command_line.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>

#include "conf/ascii.hpp"
#include "conf/config_error.hpp"
#include "conf/config_loader.hpp"

namespace courier::conf {

namespace {

enum class flag_kind { boolean, text, integer };

/// A flag's value once parsed; only the member matching its kind is set.
struct flag_value {
  bool boolean = false;
  std::string text;
  std::int64_t integer = 0;
};

struct flag_spec {
  std::vector<std::string_view> names;
  flag_kind kind;
  void (*apply)(command_line&, const flag_value&);
};

/// nats-server's port numbers: 0 = the default 4222, -1 = random (our 0).
void set_port(server_options& options, std::int64_t port, std::string_view flag) {
  if (port == -1) options.port = 0;
  else if (port == 0) options.port = 4222;
  else if (port > 0 && port <= 65535) options.port = static_cast<int>(port);
  else {
    throw config_error("invalid value \"" + std::to_string(port) + "\" for flag -" + std::string(flag) +
                       ": expected 1-65535, 0 (default) or -1 (random)");
  }
}

/// The table of accepted flags. The `apply` functions run after the config
/// file is loaded, so flags win.
const std::vector<flag_spec>& flag_table() {
  static const std::vector<flag_spec> table = {
      {{"h", "help"}, flag_kind::boolean, [](command_line& c, const flag_value& v) { c.show_help = v.boolean; }},
      {{"v", "version"}, flag_kind::boolean,
       [](command_line& c, const flag_value& v) { c.show_version = v.boolean; }},
      {{"p", "port"}, flag_kind::integer,
       [](command_line& c, const flag_value& v) { set_port(c.options, v.integer, "p"); }},
      {{"a", "addr", "net"}, flag_kind::text, [](command_line& c, const flag_value& v) { c.options.host = v.text; }},
      {{"n", "name", "server_name"}, flag_kind::text,
       [](command_line& c, const flag_value& v) { c.options.server_name = v.text; }},
      {{"c", "config"}, flag_kind::text, [](command_line&, const flag_value&) {}},
      {{"t"}, flag_kind::boolean, [](command_line& c, const flag_value& v) { c.test_config = v.boolean; }},
      {{"sl", "signal"}, flag_kind::text, [](command_line& c, const flag_value& v) { c.signal = v.text; }},
      {{"P", "pid"}, flag_kind::text, [](command_line& c, const flag_value& v) { c.options.pid_file = v.text; }},
      {{"l", "log"}, flag_kind::text, [](command_line& c, const flag_value& v) { c.options.log_file = v.text; }},
      {{"D", "debug"}, flag_kind::boolean, [](command_line& c, const flag_value& v) { c.options.debug = v.boolean; }},
      {{"V", "trace", "VV"}, flag_kind::boolean,
       [](command_line& c, const flag_value& v) { c.options.trace = v.boolean; }},
      {{"DV", "DVV"}, flag_kind::boolean,
       [](command_line& c, const flag_value& v) { c.options.debug = c.options.trace = v.boolean; }},
      {{"T", "logtime"}, flag_kind::boolean,
       [](command_line& c, const flag_value& v) { c.options.logtime = v.boolean; }},
      {{"m", "http_port"}, flag_kind::integer,
       [](command_line& c, const flag_value& v) { c.options.http_port = v.integer; }},
      {{"ms", "https_port"}, flag_kind::integer,
       [](command_line& c, const flag_value& v) { c.options.https_port = v.integer; }},
      {{"user"}, flag_kind::text, [](command_line& c, const flag_value& v) { c.options.username = v.text; }},
      {{"pass"}, flag_kind::text, [](command_line& c, const flag_value& v) { c.options.password = v.text; }},
      {{"auth"}, flag_kind::text,
       [](command_line& c, const flag_value& v) { c.options.authorization_token = v.text; }},
      {{"tls"}, flag_kind::boolean,
       [](command_line& c, const flag_value& v) {
         c.options.tls_flags.given = true;
         c.options.tls_flags.enabled = v.boolean;
       }},
      {{"tlsverify"}, flag_kind::boolean,
       [](command_line& c, const flag_value& v) {
         c.options.tls_flags.given = true;
         c.options.tls_flags.verify = v.boolean;
       }},
      {{"tlscert"}, flag_kind::text,
       [](command_line& c, const flag_value& v) {
         c.options.tls_flags.given = true;
         c.options.tls_flags.cert_file = v.text;
       }},
      {{"tlskey"}, flag_kind::text,
       [](command_line& c, const flag_value& v) {
         c.options.tls_flags.given = true;
         c.options.tls_flags.key_file = v.text;
       }},
      {{"tlscacert"}, flag_kind::text,
       [](command_line& c, const flag_value& v) {
         c.options.tls_flags.given = true;
         c.options.tls_flags.ca_file = v.text;
       }},
      {{"threads"}, flag_kind::integer,
       [](command_line& c, const flag_value& v) {
         if (v.integer < 0 || v.integer > 4096) {
           throw config_error("invalid value \"" + std::to_string(v.integer) +
                              "\" for flag -threads: expected 0 (one per two cores) to 4096");
         }
         c.options.threads = static_cast<int>(v.integer);
       }},
      {{"mss-only"}, flag_kind::text, [](command_line& c, const flag_value& v) { c.options.mss_only_url = v.text; }},
  };
  return table;
}

/// nats-server 2.9.10 flags that Courier does not implement.
constexpr std::string_view unsupported_flags[] = {
    "client_advertise", "ports_file_dir", "s", "syslog", "r", "remote_syslog",
    "log_size_limit", "max_traced_msg_len", "js", "jetstream", "sd", "store_dir", "routes", "cluster",
    "cluster_listen", "cluster_name", "no_advertise", "cluster_advertise", "connect_retries", "profile",
    "help_tls",
};

/// The signal commands nats-server's --signal knows.
constexpr std::string_view signal_commands[] = {"ldm", "stop", "quit", "term", "reopen", "reload"};

const flag_spec* find_flag(std::string_view name) {
  for (const auto& spec : flag_table()) {
    if (std::find(spec.names.begin(), spec.names.end(), name) != spec.names.end()) return &spec;
  }
  return nullptr;
}

/// Go's strconv.ParseBool.
std::optional<bool> parse_bool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

/// Go's strconv.ParseInt(text, 0, 64): a sign, then decimal, 0x hex, 0o or
/// leading-0 octal, or 0b binary. Returns an error text on failure.
std::optional<std::int64_t> parse_int(std::string_view text, std::string& error) {
  error = "parse error";
  std::string_view digits = text;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  int base = 10;
  if (digits.size() > 1 && digits[0] == '0') {
    const char marker = static_cast<char>(std::tolower(static_cast<unsigned char>(digits[1])));
    if (marker == 'x') base = 16, digits.remove_prefix(2);
    else if (marker == 'o') base = 8, digits.remove_prefix(2);
    else if (marker == 'b') base = 2, digits.remove_prefix(2);
    else base = 8, digits.remove_prefix(1);
  }
  if (digits.empty()) return std::nullopt;
  std::uint64_t magnitude = 0;
  for (char c : digits) {
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'z') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'Z') digit = c - 'A' + 10;
    else return std::nullopt;
    if (digit >= base) return std::nullopt;
    if (magnitude > (std::uint64_t{1} << 63) / static_cast<unsigned>(base)) {
      error = "value out of range";
      return std::nullopt;
    }
    magnitude = magnitude * static_cast<unsigned>(base) + static_cast<unsigned>(digit);
  }
  const std::uint64_t limit = negative ? (std::uint64_t{1} << 63) : (std::uint64_t{1} << 63) - 1;
  if (magnitude > limit) {
    error = "value out of range";
    return std::nullopt;
  }
  return negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
}

struct parsed_flag {
  const flag_spec* spec;
  flag_value value;
};

void parse_signal(command_line& result) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto eq = result.signal.find('=', start);
    parts.push_back(result.signal.substr(start, eq == std::string::npos ? std::string::npos : eq - start));
    if (eq == std::string::npos) break;
    start = eq + 1;
  }
  if (parts.size() > 2) {
    std::string extra;
    for (std::size_t i = 2; i < parts.size(); ++i) extra += (i > 2 ? " " : "") + parts[i];
    throw config_error("invalid signal parameters: [" + extra + "]");
  }
  if (std::find(std::begin(signal_commands), std::end(signal_commands), parts[0]) == std::end(signal_commands)) {
    throw config_error("unknown signal \"" + parts[0] + "\"");
  }
  result.signal_command = parts[0];
  if (parts.size() == 2) result.signal_pid = parts[1];
}

/// The flags at the front of the arguments, in order, and where they end.
struct scanned_flags {
  std::vector<parsed_flag> flags;
  std::string config_file;  ///< -c's value, empty when absent
  std::size_t end = 0;      ///< index of the first argument after the flags (and after "--")
};

/// The spec of flag `name`; throws for unsupported and unknown flags.
const flag_spec& lookup_flag(const std::string& name) {
  const flag_spec* spec = find_flag(name);
  if (spec == nullptr) {
    if (std::find(std::begin(unsupported_flags), std::end(unsupported_flags), name) != std::end(unsupported_flags)) {
      throw config_error("flag not supported by Courier: -" + name);
    }
    throw config_error("flag provided but not defined: -" + name);
  }
  return *spec;
}

/// The value of flag `name`: from `inline_value` ("-p=4222"), else, for a
/// flag that is not boolean, from args[next] ("-p 4222"), advancing `next`.
flag_value read_flag_value(const flag_spec& spec, const std::string& name, std::optional<std::string> inline_value,
                           const std::vector<std::string>& args, std::size_t& next) {
  flag_value value;
  if (spec.kind == flag_kind::boolean) {
    value.boolean = true;
    if (inline_value) {
      auto parsed = parse_bool(*inline_value);
      if (!parsed) throw config_error("invalid boolean value \"" + *inline_value + "\" for -" + name + ": parse error");
      value.boolean = *parsed;
    }
    return value;
  }
  if (!inline_value) {
    if (next >= args.size()) throw config_error("flag needs an argument: -" + name);
    inline_value = args[next++];
  }
  if (spec.kind == flag_kind::integer) {
    std::string problem;
    auto parsed = parse_int(*inline_value, problem);
    if (!parsed) throw config_error("invalid value \"" + *inline_value + "\" for flag -" + name + ": " + problem);
    value.integer = *parsed;
  } else {
    value.text = *inline_value;
  }
  return value;
}

/// Reads the flags up to the first argument that is not one, or up to "--"
/// (which is dropped). Throws on bad syntax, unknown flags and bad values.
scanned_flags scan_flags(const std::vector<std::string>& args) {
  scanned_flags out;
  std::size_t& i = out.end;
  while (i < args.size()) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') break;  // the first non-flag ends the flags
    std::size_t dashes = 1;
    if (arg[1] == '-') {
      dashes = 2;
      if (arg.size() == 2) {  // "--" ends the flags and is dropped
        ++i;
        break;
      }
    }
    std::string name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') throw config_error("bad flag syntax: " + arg);
    ++i;
    std::optional<std::string> inline_value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const flag_spec& spec = lookup_flag(name);
    parsed_flag flag{&spec, read_flag_value(spec, name, std::move(inline_value), args, i)};
    if (spec.names.front() == "c") out.config_file = flag.value.text;
    out.flags.push_back(std::move(flag));
  }
  return out;
}

/// A first pass over the flags: help, version, -t and --signal, which decide
/// what else to do.
void apply_mode_flags(const std::vector<parsed_flag>& flags, command_line& result) {
  command_line probe;
  for (const auto& flag : flags) flag.spec->apply(probe, flag.value);
  result.show_help = probe.show_help;
  result.show_version = probe.show_version;
  result.test_config = probe.test_config;
  result.signal = probe.signal;
}

/// The word after the flags: `version` or `help`, in any case.
void read_command_word(const std::string& word, command_line& result) {
  const std::string lower = ascii_lower(word);
  if (lower == "version") result.show_version = true;
  else if (lower == "help") result.show_help = true;
  else throw config_error("unrecognized command: \"" + word + "\"");
}

/// Loads the -c file into the options; -t needs one, and fails on its warnings.
void load_config(const std::string& config_file, command_line& result) {
  if (!config_file.empty()) {
    load_config_file(config_file, result.options);
    if (result.test_config && !result.options.config_warnings.empty()) {
      throw config_error(result.options.config_warnings);
    }
  } else if (result.test_config) {
    throw config_error("must specify [-c, --config] option to check configuration file syntax");
  }
}

/// nats-server: any TLS flag but --tls=false turns TLS on from the flags,
/// which then need a certificate and a key.
void resolve_tls_flags(const std::vector<parsed_flag>& flags, tls_flag_settings& tls) {
  if (!tls.given || !(tls.enabled || tls.verify || !tls.cert_file.empty() || !tls.key_file.empty() ||
                      !tls.ca_file.empty())) {
    return;
  }
  const bool disabled = std::any_of(flags.begin(), flags.end(), [](const parsed_flag& f) {
    return f.spec->names.front() == "tls" && !f.value.boolean;
  });
  if (disabled) {
    tls.enabled = false;
  } else {
    tls.enabled = true;
    if (tls.cert_file.empty()) throw config_error("TLS Server certificate must be present and valid");
    if (tls.key_file.empty()) throw config_error("TLS Server private key must be present and valid");
  }
}

}  // namespace

command_line parse_command_line(const std::vector<std::string>& args) {
  command_line result;
  result.arguments = args;
  const scanned_flags scanned = scan_flags(args);
  apply_mode_flags(scanned.flags, result);
  if (result.show_version || result.show_help) return result;
  if (scanned.end < args.size()) {
    read_command_word(args[scanned.end], result);
    return result;
  }
  if (!result.signal.empty()) {
    parse_signal(result);
    return result;
  }
  load_config(scanned.config_file, result);
  // Flags override the file.
  for (const auto& flag : scanned.flags) flag.spec->apply(result, flag.value);
  resolve_tls_flags(scanned.flags, result.options.tls_flags);
  validate_options(result.options);
  return result;
}

command_line parse_command_line(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse_command_line(args);
}

server_options reload_options(const command_line& original) {
  return parse_command_line(original.arguments).options;
}

std::string usage_text(std::string_view program) {
  std::string text = "\nUsage: " + std::string(program) + " [options]\n";
  text += R"(
Server options:
    -a, --addr, --net <host>         Address to listen on (default: 0.0.0.0; "::" for all IPv6)
    -p, --port <port>                Port for clients (default: 4222; -1 picks a free port)
    -n, --name,
        --server_name <name>         Server name (default: the server id)
    -P, --pid <file>                 Write the process id to this file
    -m, --http_port <port>           HTTP monitoring port (/varz, /connz, /subsz, /routez,
                                     /gatewayz, /leafz, /accountz, /accstatz, /jsz,
                                     /healthz as nats-server; /metrics for Prometheus;
                                     /dashboard, a live page). -1 picks a free port
    -ms,--https_port <port>          The same over HTTPS (with the tls block's certificate)
    -c, --config <file>              Read this configuration file (flags override it)
    -t                               Check the configuration file and exit
    -sl,--signal <signal>[=<pid>]    Send a signal to a running server and exit:
                                     ldm, stop, quit, term, reopen, reload;
                                     <pid> is a process id or a pid file

Logging options:
    -l, --log <file>                 Write the log to this file
    -T, --logtime                    Timestamp log lines (default: true; -T=false to stop)
    -D, --debug                      Log debug messages
    -V, --trace                      Log the protocol traffic
    -DV                              Debug and trace (-VV and -DVV do the same)

Authorization options:
        --user <user>                User required to connect
        --pass <password>            Password required to connect
        --auth <token>               Token required to connect

TLS options:
        --tls                        Use TLS, without verifying clients
        --tlscert <file>             Server certificate
        --tlskey <file>              Server certificate's private key
        --tlsverify                  Use TLS and verify client certificates
        --tlscacert <file>           CA for verifying client certificates

Courier options:
        --threads <n>                Worker event loops (default: 0, one per two cores)
        --mss-only <url>             Message services only mode, via this URL

Common options:
    -h, --help                       Show this text
    -v, --version                    Show the version

Flags take one or two dashes; values follow as "-p 4222", "-p=4222" or
"--port=4222"; on/off flags only as "-D" or "-D=false".
)";
  return text;
}

}  // namespace courier::conf
