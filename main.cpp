// The courier executable: nats-server's command line over the embeddable
// broker. Everything of substance lives in the library.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include "broker/logger.hpp"
#include "broker/server.hpp"
#include "broker/signal_command.hpp"
#include "conf/command_line.hpp"
#include "monitor/monitoring.hpp"
#include "mss/service/runner.hpp"

namespace {

using namespace courier;

/// Builds, and starts nothing, everything serve() builds from `options`:
/// the broker (TLS certificates, users, accounts), monitoring, the message
/// services. Throws what start-up would throw. `courier -t` runs it, and a
/// reload runs its message-services part; a part added to serve() is
/// added here too.
void check_configuration(const conf::server_options& options) {
  if (mss::message_services_only(options)) return mss::check_message_services(options);  // no broker then
  broker::server server(options);
  monitor::monitoring::check(server);
  mss::check_message_services(options);
}

/// The commands that answer and exit without serving: help, version,
/// signal, -t. Returns the exit status, or nothing to go on and serve.
std::optional<int> answer_without_serving(const conf::command_line& command) {
  if (command.show_help) {
    std::fputs(conf::usage_text().c_str(), stdout);
    return 0;
  }
  if (command.show_version) {
    std::printf("nats-server: v%s (courier %s)\n", broker::compatible_nats_version, broker::courier_version);
    return 0;
  }
  if (!command.signal.empty()) return broker::send_signal_command(command.signal, command.options.pid_file);
  for (const auto& warning : command.options.config_warnings) {
    std::fprintf(stderr, "nats-server: %s\n", warning.to_string().c_str());
  }
  if (command.test_config) {
    // nats-server -t fails on warnings too, and reports on stderr.
    if (!command.options.config_warnings.empty()) return 1;
    try {
      check_configuration(command.options);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "nats-server: %s\n", error.what());
      return 1;
    }
    std::fprintf(stderr, "nats-server: configuration file %s is valid\n", command.options.config_file.c_str());
    return 0;
  }
  return std::nullopt;
}

/// Opens the log as the options say. False (after saying why) if it cannot.
bool open_log(const conf::server_options& options) {
  auto& log = broker::log();
  try {
    log.open(options.log_file);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "nats-server: %s\n", error.what());
    return false;
  }
  log.set_debug(options.debug);
  log.set_trace(options.trace);
  log.set_logtime(options.logtime);
  return true;
}

/// The broker with its embedded message services, until a signal stops it.
int serve(const conf::server_options& options, const sigset_t& handled) {
  try {
    // A message-services block that cannot build is refused before the
    // broker listens (or says it is ready), with -t's message.
    if (!options.mss.is<picojson::null>()) mss::check_message_services(options);
    broker::server server(options);
    server.set_command_line_logging(options.debug, options.trace);
    // A reload refuses a file whose message services would not build, as
    // start-up and -t do. (The running services keep their configuration:
    // changes to the mss block take effect at the next start.)
    server.set_reload_check([&options](const conf::server_options& fresh) {
      mss::check_message_services(fresh);
      if (fresh.mss != options.mss)
        broker::log().write(broker::log_level::warning,
                            "mss: the block changed; the message services keep theirs until the next start");
    });
    server.handle_signals();
    // Clients are accepted only once the embedded message services have
    // subscribed; until then their connects wait in the listen backlog.
    server.start(broker::server::accepting::later);
    pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);
    if (!options.pid_file.empty()) std::ofstream(options.pid_file) << ::getpid();
    monitor::monitoring monitoring(server);  // listens when -m/-ms/http/https ask
    monitoring.start();
    auto services = mss::start_message_services(&server, options);  // null without an mss block
    server.accept_clients();
    server.wait();
    services.reset();  // stop the services before the broker they use
    monitoring.stop();
    server.shutdown();
    if (!options.pid_file.empty()) ::unlink(options.pid_file.c_str());
  } catch (const std::exception& error) {
    broker::log().write(broker::log_level::fatal, error.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Outbound buffers of busy receivers grow to megabytes. With a fixed mmap
  // threshold (glibc raises it dynamically otherwise) every buffer of 1 MiB
  // or more is its own mapping: it grows with mremap rather than a copy and
  // goes back to the system when freed, instead of staying in the heap.
  // Only the executable sets this; an application embedding the library
  // keeps its own allocator settings.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  conf::command_line command;
  try {
    command = conf::parse_command_line(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "nats-server: %s\n", error.what());
    return 1;
  }
  if (auto status = answer_without_serving(command)) return *status;
  if (!open_log(command.options)) return 1;

  // Block the signals the server handles before any thread starts, so that
  // only the server's signal_set sees them.
  sigset_t handled;
  sigemptyset(&handled);
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGUSR2}) sigaddset(&handled, signal_number);
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // --mss-only: no broker, the message services as a client of another server.
  if (mss::message_services_only(command.options)) return mss::run_message_services_only(command.options);
  return serve(command.options, handled);
}
