// The registry of metrics sources: writers run in name order, a handle
// removes its source, names are unique, and a removal waits for a writer
// that is running.
#include "broker/metrics_sources.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace courier::broker {
namespace {

using namespace std::chrono_literals;

std::string render(const metrics_sources& sources) {
  std::string out;
  sources.write_all(out);
  return out;
}

TEST(metrics_sources, writers_run_in_name_order_until_their_handle_goes) {
  metrics_sources sources;
  EXPECT_EQ(render(sources), "");
  auto b = sources.add("b", [](std::string& out) { out += "b 1\n"; });
  {
    auto a = sources.add("a", [](std::string& out) { out += "a 1\n"; });
    EXPECT_TRUE(a);
    EXPECT_EQ(render(sources), "a 1\nb 1\n");
    EXPECT_EQ(sources.names(), (std::vector<std::string>{"a", "b"}));
  }
  EXPECT_EQ(render(sources), "b 1\n");
  b.reset();
  EXPECT_FALSE(b);
  EXPECT_EQ(render(sources), "");
  EXPECT_TRUE(sources.names().empty());
}

TEST(metrics_sources, a_name_is_registered_once_and_free_again_after_removal) {
  metrics_sources sources;
  auto first = sources.add("mss", [](std::string& out) { out += "first\n"; });
  EXPECT_THROW((void)sources.add("mss", [](std::string&) {}), std::invalid_argument);
  EXPECT_THROW((void)sources.add("empty", metrics_writer{}), std::invalid_argument);
  first.reset();
  auto second = sources.add("mss", [](std::string& out) { out += "second\n"; });
  EXPECT_EQ(render(sources), "second\n");
}

TEST(metrics_sources, a_moved_handle_removes_its_source_once) {
  metrics_sources sources;
  auto original = sources.add("x", [](std::string& out) { out += "x\n"; });
  metrics_sources::handle moved = std::move(original);
  EXPECT_FALSE(original);
  original.reset();  // nothing: it gave its source away
  EXPECT_EQ(render(sources), "x\n");
  metrics_sources::handle other = sources.add("y", [](std::string& out) { out += "y\n"; });
  other = std::move(moved);  // drops y, now owns x
  EXPECT_EQ(render(sources), "x\n");
  other.reset();
  EXPECT_EQ(render(sources), "");
}

TEST(metrics_sources, removal_waits_for_a_running_writer) {
  metrics_sources sources;
  std::mutex mutex;
  std::condition_variable changed;
  bool writing = false;
  bool release = false;
  std::atomic<bool> removed{false};
  auto handle = sources.add("slow", [&](std::string& out) {
    std::unique_lock lock(mutex);
    writing = true;
    changed.notify_all();
    changed.wait(lock, [&] { return release; });
    // The owner must not have finished removing us while we run.
    out += removed ? "removed while running\n" : "ok\n";
  });
  std::string output;
  std::thread renderer([&] { sources.write_all(output); });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 30s, [&] { return writing; }));
  }
  std::atomic<bool> removing{false};
  std::thread remover([&] {
    removing = true;
    handle.reset();
    removed = true;
  });
  while (!removing) std::this_thread::yield();
  {
    // The remover is blocked behind the writer; let the writer finish.
    std::lock_guard lock(mutex);
    release = true;
    changed.notify_all();
  }
  renderer.join();
  remover.join();
  EXPECT_EQ(output, "ok\n");
  EXPECT_EQ(render(sources), "");
}

}  // namespace
}  // namespace courier::broker
