#pragma once

// A loopback port for a server a test is about to start.
//
// Asking the kernel (bind to port 0, read the port, release it) hands out
// ports from the ephemeral range, the same range every outgoing connection
// takes its local port from, and twice in a row it can hand out the same one:
// a test that picked a client port and a WebSocket port that way once got one
// number for both. So ports are drawn at random below the ephemeral range
// (32768 and up on Linux) and checked free by binding.
//
// ctest runs many test processes at once, and each of them picks ports, so
// two of them could pick the same one and the later server's start fail with
// "address already in use" (a CI run lost a Prometheus that way). A port is
// therefore reserved across processes before it is given out: an exclusive
// flock(2) on the file PORTDIR/PORT, where PORTDIR is
// $TMPDIR/courier-test-ports. The lock is held, on a descriptor closed only
// at exit, for as long as the process that took it lives, so no other test
// process (C++ here, Python in tests/free_port.py, the same files) is given
// that port meanwhile; the kernel drops the lock when the process ends
// however it ends. A process outside the tests can still take the port; the
// harnesses that start servers retry on new ports when one says so.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>

namespace courier::test {

/// The directory of port reservations (see the file comment).
inline std::string port_reservation_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = (tmp && *tmp) ? tmp : "/tmp";
  return dir + "/courier-test-ports";
}

/// True when this process now holds the reservation of `port`. The
/// descriptor is kept open, on purpose, until the process exits.
inline bool reserve_port(int port) {
  const std::string dir = port_reservation_dir();
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) return true;  // no directory: binding alone decides
  const std::string file = dir + "/" + std::to_string(port);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return true;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  return true;
}

/// True when a server's start failure (its log) says a port it was given was
/// taken: nats-server prints "bind: address already in use", Courier
/// "Address already in use", Prometheus "bind: address already in use".
/// (tests/free_port.py port_taken says the same.)
inline bool port_taken(std::string_view log) { return log.find("already in use") != std::string_view::npos; }

inline int free_port() {
  static std::mutex mutex;
  static std::set<int> given;
  static std::mt19937 random{std::random_device{}()};
  std::lock_guard lock(mutex);
  std::uniform_int_distribution<int> pick(20000, 31999);
  for (;;) {
    const int port = pick(random);
    if (given.contains(port)) continue;
    given.insert(port);  // ours now, or another process's: not tried again either way
    if (!reserve_port(port)) continue;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (!bound) continue;
    return port;
  }
}

}  // namespace courier::test
