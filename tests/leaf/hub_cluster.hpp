// A real NATS cluster for the leafnode tests: nats-server 2.9.10 processes
// (Debian's /usr/sbin/nats-server) joined by routes on loopback, each with a
// leafnode listener and a monitoring port, every port picked free by the
// test. The test files embed Courier beside it.
#pragma once

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../mss/broker_process.hpp"

namespace courier::leaf_test {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// Polls `pred` until it holds or `timeout` passes (generous: CI is a busy
/// 2-core machine running sanitizer builds).
template <class Predicate>
bool eventually(Predicate pred, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() >= deadline) return pred();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

/// GET http://127.0.0.1:port/path; the body, or "" on failure.
inline std::string http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return {};
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    ::close(fd);
    return {};
  }
  std::string response;
  char buffer[4096];
  for (;;) {
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : response.substr(body + 4);
}

/// A cluster of nats-server processes, each with a leafnode port.
class hub_cluster {
 public:
  /// `extra_config` goes at the end of each member's config, `leaf_extra`
  /// inside its leafnodes block (a tls block, say).
  explicit hub_cluster(int size = 3, std::string extra_config = "", std::string leaf_extra = "")
      : extra_(std::move(extra_config)), leaf_extra_(std::move(leaf_extra)) {
    dir_ = std::filesystem::temp_directory_path() /
           ("courier-leaf-hub-" + std::to_string(::getpid()) + "-" + std::to_string(serial()++));
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < size; ++i) {
      nodes_.push_back(node{mss::test::unused_port(), mss::test::unused_port(), mss::test::unused_port(),
                            mss::test::unused_port(), std::make_unique<mss::test::broker_process>()});
    }
  }
  ~hub_cluster() {
    for (auto& n : nodes_) n.process->stop(SIGKILL);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  /// Starts every member and waits until each has a route to every other.
  /// Fails the test (and returns false) when nats-server is missing or the
  /// cluster does not come up. Ports are picked free but released before
  /// nats-server binds them, so a test running beside may take one first:
  /// then the members start again on fresh ports (a few times).
  bool start() {
    const auto binary = mss::test::nats_server_binary();
    if (!std::filesystem::exists(binary)) {
      ADD_FAILURE() << "nats-server not found at " << binary << " (Debian package nats-server)";
      return false;
    }
    std::string problem;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (attempt > 0) {
        for (auto& n : nodes_) {
          n.process->stop(SIGKILL);
          n = node{mss::test::unused_port(), mss::test::unused_port(), mss::test::unused_port(),
                   mss::test::unused_port(), std::make_unique<mss::test::broker_process>()};
        }
      }
      if (try_start(binary, problem)) return true;
    }
    ADD_FAILURE() << problem;
    return false;
  }

  /// Starts a stopped member again, same ports and config.
  bool restart(std::size_t i) { return nodes_[i].process->restart(); }
  /// kill -9 one member.
  void kill(std::size_t i) { nodes_[i].process->stop(SIGKILL); }
  bool alive(std::size_t i) const { return nodes_[i].process->pid() > 0; }
  std::size_t size() const { return nodes_.size(); }

  std::string client_url(std::size_t i) const { return "nats://127.0.0.1:" + std::to_string(nodes_[i].client_port); }
  std::string leaf_url(std::size_t i) const { return "nats-leaf://127.0.0.1:" + std::to_string(nodes_[i].leaf_port); }
  int leaf_port(std::size_t i) const { return nodes_[i].leaf_port; }
  int http_port(std::size_t i) const { return nodes_[i].http_port; }
  /// Leaf connections member i has (its /leafz "leafnodes").
  int leaf_count(std::size_t i) const {
    const auto body = http_get(nodes_[i].http_port, "/leafz");
    const auto at = body.find("\"leafnodes\": ");
    if (at == std::string::npos) return -1;
    return std::atoi(body.c_str() + at + 13);
  }
  /// The member with a leaf connection, or -1.
  int member_with_leaf() const {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (alive(i) && leaf_count(i) > 0) return static_cast<int>(i);
    }
    return -1;
  }
  std::string log(std::size_t i) const {
    std::ifstream in(dir_ / ("hub" + std::to_string(i) + ".log"));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  bool try_start(const std::string& binary, std::string& problem) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      const auto name = "hub" + std::to_string(i);
      const auto path = (dir_ / (name + ".conf")).string();
      std::ofstream(path) << config(i);
      std::filesystem::remove(dir_ / (name + ".log"));
      if (!nodes_[i].process->start(binary, {"-c", path}, nodes_[i].client_port, (dir_ / (name + ".log")).string())) {
        problem = "hub member " + std::to_string(i) + " did not start; its log: " + log(i);
        return false;
      }
    }
    const bool routed = eventually([&] {
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (http_get(nodes_[i].http_port, "/routez").find("\"num_routes\": " + std::to_string(nodes_.size() - 1)) ==
            std::string::npos)
          return false;
      }
      return true;
    });
    if (!routed) problem = "the hub cluster did not form its routes; member 0's log: " + log(0);
    return routed;
  }

  std::string config(std::size_t i) const {
    std::string routes;
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      if (j == i) continue;
      if (!routes.empty()) routes += ", ";
      routes += "\"nats-route://127.0.0.1:" + std::to_string(nodes_[j].route_port) + "\"";
    }
    return "server_name: hub" + std::to_string(i) + "\n" +
           "http: \"127.0.0.1:" + std::to_string(nodes_[i].http_port) + "\"\n" +
           "cluster {\n  name: hub\n  listen: \"127.0.0.1:" + std::to_string(nodes_[i].route_port) + "\"\n" +
           "  routes: [" + routes + "]\n}\n" +
           "leafnodes {\n  listen: \"127.0.0.1:" + std::to_string(nodes_[i].leaf_port) + "\"\n" + leaf_extra_ +
           "}\n" + extra_;
  }

  static int& serial() {
    static int value = 0;
    return value;
  }

  struct node {
    int client_port;
    int route_port;
    int leaf_port;
    int http_port;
    std::unique_ptr<mss::test::broker_process> process;
  };
  std::filesystem::path dir_;
  std::string extra_;
  std::string leaf_extra_;
  std::vector<node> nodes_;
};

}  // namespace courier::leaf_test
