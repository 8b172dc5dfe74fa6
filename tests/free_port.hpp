#pragma once

// A loopback port for a server a test is about to start.
//
// Asking the kernel (bind to port 0, read the port, release it) hands out
// ports from the ephemeral range, the same range every outgoing connection
// takes its local port from, and twice in a row it can hand out the same one:
// a test that picked a client port and a WebSocket port that way once got one
// number for both. So ports are drawn at random below the ephemeral range
// (32768 and up on Linux), checked free by binding, and never given out twice
// by one process. Another process can still take the port before the server
// binds it; with 12,000 candidates that is rare, and the server's start then
// fails loudly.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <random>
#include <set>

namespace courier::test {

inline int free_port() {
  static std::mutex mutex;
  static std::set<int> given;
  static std::mt19937 random{std::random_device{}()};
  std::lock_guard lock(mutex);
  std::uniform_int_distribution<int> pick(20000, 31999);
  for (;;) {
    const int port = pick(random);
    if (given.contains(port)) continue;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (!bound) continue;
    given.insert(port);
    return port;
  }
}

}  // namespace courier::test
