// The gateway's notification store: bounds, order, per-user read marks on
// broadcast notifications, and its file (replayed, torn tail dropped,
// compacted).
#include "mss/notify/notification_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "test_support.hpp"

namespace courier::mss::notify {
namespace {

std::vector<std::uint64_t> ids(const notification_page& page) {
  std::vector<std::uint64_t> out;
  for (const auto& n : page.items) out.push_back(n.id);
  return out;
}

picojson::value doc(int n) {
  picojson::object o;
  o["n"] = picojson::value(static_cast<std::int64_t>(n));
  return picojson::value(o);
}

TEST(NotificationStore, NewestFirstBoundedAndMergedWithBroadcasts) {
  notification_store store(3);
  store.add("alice", false, "a", doc(1), 1000);         // 1, dropped by the bound
  store.add("alice", false, "a", doc(2), 1001);         // 2
  store.add("", true, "all", doc(3), 1002);             // 3
  store.add("bob", false, "b", doc(4), 1003);           // 4
  store.add("alice", false, "a", doc(5), 1004);         // 5
  const auto n = store.add("alice", false, "a", doc(6), 1005);  // 6
  EXPECT_EQ(n.id, 6u);
  auto page = store.list("alice", 0, 10, false);
  EXPECT_EQ(ids(page), (std::vector<std::uint64_t>{6, 5, 3, 2}));
  EXPECT_EQ(page.total, 4u);
  EXPECT_TRUE(page.items[2].broadcast);
  EXPECT_EQ(page.items[0].document.serialize(), R"({"n":6})");
  EXPECT_EQ(ids(store.list("alice", 1, 2, false)), (std::vector<std::uint64_t>{5, 3}));
  EXPECT_EQ(ids(store.list("carol", 0, 10, false)), (std::vector<std::uint64_t>{3}));

  EXPECT_EQ(store.mark_read("alice", {3, 5, 4, 99}), 2u);  // bob's 4 and unknown 99 ignored
  EXPECT_EQ(store.mark_read("alice", {3}), 0u);
  EXPECT_EQ(store.unread("alice"), 2u);
  EXPECT_EQ(store.unread("bob"), 2u);  // the broadcast is unread for him
  EXPECT_EQ(ids(store.list("alice", 0, 10, true)), (std::vector<std::uint64_t>{6, 2}));
  EXPECT_EQ(store.mark_all_read("alice"), 2u);
  EXPECT_EQ(store.unread("alice"), 0u);
}

TEST(NotificationStore, FileReplaysDropsATornTailAndCompacts) {
  test::temp_dir dir;
  const std::string file = dir.file("n.jsonl");
  {
    notification_store store(2, file);
    for (int i = 1; i <= 200; ++i) store.add("alice", false, "a", doc(i), 1000 + i);
    store.add("", true, "all", doc(201), 2000);
    store.mark_read("alice", {200, 201});
  }
  // Compacted as it went: far fewer lines than the 202 changes.
  const std::string compacted = test::read_file(file);
  EXPECT_LT(std::count(compacted.begin(), compacted.end(), '\n'), 100);
  {
    std::ofstream out(file, std::ios::app);
    out << R"({"op":"add","id":77,"user":"alice","type":"a","document":{},"ti)";  // killed mid-write
  }
  notification_store store(2, file);
  EXPECT_EQ(store.skipped_lines(), 1u);
  const auto page = store.list("alice", 0, 10, false);
  EXPECT_EQ(ids(page), (std::vector<std::uint64_t>{201, 200, 199}));
  EXPECT_TRUE(page.items[0].read);
  EXPECT_TRUE(page.items[1].read);
  EXPECT_FALSE(page.items[2].read);
  EXPECT_EQ(store.add("alice", false, "a", doc(0), 3000).id, 202u);
  // The torn line is gone from the file.
  EXPECT_EQ(test::read_file(file).find(R"("ti)" "\n"), std::string::npos);
}

}  // namespace
}  // namespace courier::mss::notify
