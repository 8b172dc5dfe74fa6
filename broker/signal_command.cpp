#include "broker/signal_command.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string_view>
#include <vector>

namespace courier::broker {

namespace {

int signal_for(std::string_view command) {
  if (command == "ldm") return SIGUSR2;
  if (command == "quit") return SIGINT;
  if (command == "stop") return SIGKILL;
  if (command == "term") return SIGTERM;
  if (command == "reopen") return SIGUSR1;
  if (command == "reload") return SIGHUP;
  return 0;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

/// Reads a pid from a file; 0 if it does not hold one.
pid_t read_pid_file(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  in >> text;
  return all_digits(text) ? static_cast<pid_t>(std::stol(text)) : 0;
}

/// Pids of other processes whose executable is courier (or nats-server).
std::vector<pid_t> find_servers() {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  while (dirent* entry = ::readdir(proc)) {
    if (!all_digits(entry->d_name)) continue;
    pid_t pid = static_cast<pid_t>(std::stol(entry->d_name));
    if (pid == ::getpid()) continue;
    std::ifstream comm(std::string("/proc/") + entry->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name == "courier") found.push_back(pid);
  }
  ::closedir(proc);
  return found;
}

}  // namespace

int send_signal_command(const std::string& command, const std::string& pid_file) {
  std::string name = command;
  std::string target;
  if (auto equals = command.find('='); equals != std::string::npos) {
    name = command.substr(0, equals);
    target = command.substr(equals + 1);
  }
  int signal_number = signal_for(name);
  if (signal_number == 0) {
    std::fprintf(stderr, "nats-server: unknown signal \"%s\"\n", name.c_str());
    return 1;
  }
  pid_t pid = 0;
  if (!target.empty()) {
    pid = all_digits(target) ? static_cast<pid_t>(std::stol(target)) : read_pid_file(target);
    if (pid == 0) {
      std::fprintf(stderr, "nats-server: invalid pid or pid file \"%s\"\n", target.c_str());
      return 1;
    }
  } else if (!pid_file.empty()) {
    pid = read_pid_file(pid_file);
    if (pid == 0) {
      std::fprintf(stderr, "nats-server: could not read pid from %s\n", pid_file.c_str());
      return 1;
    }
  } else {
    auto servers = find_servers();
    if (servers.empty()) {
      std::fprintf(stderr, "nats-server: no courier process running\n");
      return 1;
    }
    if (servers.size() > 1) {
      std::fprintf(stderr, "nats-server: multiple courier processes running; specify a pid\n");
      return 1;
    }
    pid = servers.front();
  }
  if (::kill(pid, signal_number) != 0) {
    std::fprintf(stderr, "nats-server: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}

}  // namespace courier::broker
