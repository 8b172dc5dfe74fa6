// Starting the real peers (servers, scripts, browsers) from test binaries.
//
// The test binaries are multi-threaded (io threads, brokers in-process), and
// after fork() in a multi-threaded process the child may only make
// async-signal-safe calls until it execs: allocating there (building argv
// in a std::vector, say) is undefined. So everything the child needs is
// built here before the fork, and the child only calls prctl, getppid,
// open, dup2, close, sigprocmask, execve and _exit. (This was not the cause
// of the stalled peer starts seen on the CI machine: a standalone ASan
// program that allocated in its forked children never hung in 600 tries.)
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace courier::test {

struct spawn_options {
  int stdin_fd = -1;   ///< becomes the child's stdin when >= 0
  int stdout_fd = -1;  ///< becomes the child's stdout when >= 0
  /// When set, the child's stdout and stderr are appended to this file
  /// (stdout only if stdout_fd is set too).
  std::string log;
  bool quiet = false;  ///< stdout and stderr to /dev/null (when no log)
  /// Added to the environment ("NAME=value").
  std::vector<std::string> extra_env;
  /// The child is SIGKILLed when the test binary dies: a crashed test must
  /// not leave a server behind holding CTest's output pipe open.
  bool die_with_parent = true;
};

/// Starts argv[0] (a path) with `argv`. Returns the child's pid, or -1 if
/// fork failed (errno set). A child that cannot exec exits with 127.
inline pid_t spawn(const std::vector<std::string>& argv, const spawn_options& options = {}) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const auto& assignment : options.extra_env) {
      const auto name = assignment.substr(0, assignment.find('=') + 1);
      replaced = replaced || entry.substr(0, name.size()) == name;
    }
    if (!replaced) env.push_back(*e);
  }
  for (const auto& assignment : options.extra_env) env.push_back(const_cast<char*>(assignment.c_str()));
  env.push_back(nullptr);
  const char* output = options.log.empty() ? (options.quiet ? "/dev/null" : nullptr) : options.log.c_str();
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // The child: async-signal-safe calls only from here on.
  if (options.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
  }
  if (options.stdin_fd >= 0) ::dup2(options.stdin_fd, STDIN_FILENO);
  if (output != nullptr) {
    const int out = ::open(output, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      if (out > STDERR_FILENO) ::close(out);
    }
  }
  if (options.stdout_fd >= 0) ::dup2(options.stdout_fd, STDOUT_FILENO);
  // The test binary may have blocked signals; the child needs them.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(args[0], args.data(), env.data());
  ::_exit(127);
}

}  // namespace courier::test
