// Runs tests/browser/leaf_clients.mjs: stock npm `nats` clients (nats.js
// over TCP, in Node) on both sides of a leafnode connection. The checks are
// in the script (pub/sub with wildcards both ways, request/reply both ways,
// headers both ways, no responders, a queue group with a member on each side
// and every message delivered once); this starts it and reads its verdict.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "hub_cluster.hpp"
#include "tests/spawn.hpp"

namespace courier::leaf_test {

/// `leaf_url`: a client URL of the leaf server; `hub_url`: of the hub (a
/// member the leaf may not be connected to); `hub_queue_url`: where the hub
/// side's queue member connects (another member, or the hub again).
inline void run_npm_clients(const std::string& leaf_url, const std::string& hub_url, const std::string& hub_queue_url) {
  const auto log = (std::filesystem::temp_directory_path() /
                    ("courier-leaf-npm-" + std::to_string(::getpid()) + ".log")).string();
  std::filesystem::remove(log);
  test::spawn_options options;
  options.log = log;
  const pid_t pid = test::spawn(
      {COURIER_NODE, std::string(COURIER_SOURCE_DIR) + "/tests/browser/leaf_clients.mjs", leaf_url, hub_url, hub_queue_url},
      options);
  ASSERT_GT(pid, 0);
  // The script bounds each of its waits (60 s); this only catches a hang.
  int status = 0;
  const bool ended = eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::minutes(6));
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  std::ifstream in(log);
  const std::string output{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::filesystem::remove(log);
  ASSERT_TRUE(ended) << "the npm nats clients did not finish; their output:\n" << output;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_NE(output.find("all passed"), std::string::npos) << output;
  for (const char* check : {"ok leaf to hub", "ok hub to leaf", "ok request on the leaf", "ok request on the hub",
                            "ok headers hub to leaf", "ok headers leaf to hub", "ok no responders",
                            "ok queue group on both sides"}) {
    EXPECT_NE(output.find(check), std::string::npos) << check << " missing; output:\n" << output;
  }
}

}  // namespace courier::leaf_test
