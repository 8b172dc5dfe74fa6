// Ports handed to servers are reserved across the test processes that run at
// once (tests/free_port.hpp and tests/free_port.py, one set of lock files):
// a port another process holds is not given out, in either language, and is
// free again once that process has ended.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>

#include "tests/free_port.hpp"
#include "tests/mss/test_support.hpp"
#include "tests/spawn.hpp"

namespace courier::test {
namespace {

/// A Python process that runs `code` (with tests/free_port.py importable)
/// and stays alive until its stdin closes; its first line of output.
class python_child {
 public:
  explicit python_child(const std::string& code) {
    int in[2], out[2];
    EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    spawn_options options;
    options.stdin_fd = in[0];
    options.stdout_fd = out[1];
    const std::string program = "import sys\nsys.path.insert(0, '" COURIER_SOURCE_DIR "/tests')\n"
                                "from free_port import free_port, reserve_port\n" +
                                code + "\nsys.stdout.flush()\nsys.stdin.read()\n";
    pid_ = spawn({mss::test::python(), "-c", program}, options);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line_ += c;
    ::close(out[0]);
  }
  ~python_child() { end(); }

  const std::string& line() const { return line_; }

  /// Closes its stdin and waits for it to exit.
  void end() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::string line_;
};

TEST(free_port, a_port_a_python_test_holds_is_not_given_here_until_it_exits) {
  python_child holder("print(free_port())");
  const int port = std::stoi(holder.line());
  ASSERT_GE(port, 20000);
  EXPECT_FALSE(reserve_port(port)) << port;
  holder.end();
  EXPECT_TRUE(reserve_port(port)) << port;
}

TEST(free_port, a_port_given_here_is_not_given_to_a_python_test) {
  const int port = free_port();
  ASSERT_GE(port, 20000);
  python_child other("print(reserve_port(" + std::to_string(port) + "))");
  EXPECT_EQ(other.line(), "False");
}

TEST(free_port, never_the_same_port_twice_in_one_process) {
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(seen.insert(free_port()).second);
}

}  // namespace
}  // namespace courier::test
