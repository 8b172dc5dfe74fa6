// The courier executable: nats-server's command line over the embeddable
// broker. Everything of substance lives in the library.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "broker/logger.hpp"
#include "broker/server.hpp"
#include "broker/signal_command.hpp"
#include "conf/command_line.hpp"
#include "mss/service/runner.hpp"

int main(int argc, char** argv) {
  using namespace courier;
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
    std::fprintf(stderr, "nats-server: configuration file %s is valid\n", command.options.config_file.c_str());
    return 0;
  }

  auto& log = broker::log();
  try {
    log.open(command.options.log_file);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "nats-server: %s\n", error.what());
    return 1;
  }
  log.set_debug(command.options.debug);
  log.set_trace(command.options.trace);
  log.set_logtime(command.options.logtime);

  // Block the signals the server handles before any thread starts, so that
  // only the server's signal_set sees them.
  sigset_t handled;
  sigemptyset(&handled);
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGUSR2}) sigaddset(&handled, signal_number);
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (mss::message_services_only(command.options)) {
    // --mss-only: no broker, the message services as a client of another server.
    int status = mss::run_message_services_only(command.options);
    return status;
  }

  try {
    broker::server server(command.options);
    server.set_command_line_logging(command.options.debug, command.options.trace);
    server.handle_signals();
    // Clients are accepted only once the embedded message services have
    // subscribed; until then their connects wait in the listen backlog.
    server.start(broker::server::accepting::later);
    pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);
    if (!command.options.pid_file.empty()) {
      std::ofstream(command.options.pid_file) << ::getpid();
    }
    auto services = mss::start_message_services(&server, command.options);  // null without an mss block
    server.accept_clients();
    server.wait();
    services.reset();  // stop the services before the broker they use
    server.shutdown();
    if (!command.options.pid_file.empty()) ::unlink(command.options.pid_file.c_str());
  } catch (const std::exception& error) {
    log.write(broker::log_level::fatal, error.what());
    return 1;
  }
  return 0;
}
