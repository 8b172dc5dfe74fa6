#include "broker/router/string_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

namespace courier::broker {
namespace {

// ---------------------------------------------------------------------------
// The flat hash table under the L1 cache and the permission caches, against
// std::map; its probing is also the trie levels'.

TEST(StringTable, RandomOperationsAgainstStdMap) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    std::mt19937_64 rng(seed);
    string_table<int> table;
    std::map<std::string, int> reference;
    // Few distinct keys, so that probe runs collide, wrap and get erased from.
    const std::size_t key_space = seed == 1 ? 12 : 300;
    for (int step = 0; step < 40000; ++step) {
      const std::string key = "k" + std::to_string(rng() % key_space);
      switch (rng() % 5) {
        case 0:
        case 1: {
          const int value = static_cast<int>(rng() % 1000);
          const auto [stored, inserted] = table.try_emplace(key, value);
          const auto [it, ref_inserted] = reference.try_emplace(key, value);
          ASSERT_EQ(inserted, ref_inserted);
          ASSERT_EQ(*stored, it->second);
          break;
        }
        case 2:
          ASSERT_EQ(table.erase(key), reference.erase(key) == 1);
          break;
        case 3: {
          const int* found = table.find(key);
          auto it = reference.find(key);
          ASSERT_EQ(found != nullptr, it != reference.end());
          if (found) {
            ASSERT_EQ(*found, it->second);
          }
          break;
        }
        default:
          if (rng() % 200 == 0) {
            // Drop every key ending in an odd digit.
            auto odd = [](const std::string& k) { return (k.back() - '0') % 2 == 1; };
            table.erase_if([&](const std::string& k, int) { return odd(k); });
            std::erase_if(reference, [&](const auto& entry) { return odd(entry.first); });
          } else if (rng() % 300 == 0) {
            table.retain(5);
            ASSERT_EQ(table.size(), std::min<std::size_t>(5, reference.size()));
            // Rebuild the reference from what was kept.
            std::map<std::string, int> kept;
            table.for_each([&](const std::string& k, int v) { kept[k] = v; });
            for (const auto& [k, v] : kept) ASSERT_EQ(reference.at(k), v);
            reference = std::move(kept);
          }
      }
      ASSERT_EQ(table.size(), reference.size());
    }
    std::size_t visited = 0;
    table.for_each([&](const std::string& k, int v) {
      ++visited;
      EXPECT_EQ(reference.at(k), v);
    });
    EXPECT_EQ(visited, reference.size());
    table.clear();
    EXPECT_EQ(table.size(), 0u);
    EXPECT_EQ(table.find("k1"), nullptr);
  }
}

TEST(StringTable, LooksUpByStringViewIntoLongerText) {
  string_table<int> table;
  table.try_emplace("foo", 1);
  table.try_emplace("foo.bar", 2);
  const std::string text = "foo.bar.baz";
  ASSERT_NE(table.find(std::string_view(text).substr(0, 3)), nullptr);
  EXPECT_EQ(*table.find(std::string_view(text).substr(0, 3)), 1);
  EXPECT_EQ(*table.find(std::string_view(text).substr(0, 7)), 2);
  EXPECT_EQ(table.find(std::string_view(text)), nullptr);
  EXPECT_EQ(table.find(""), nullptr);
}

TEST(StringHash, NonzeroAndTransparent) {
  const std::string key = "orders.eu.new";
  EXPECT_EQ(string_hash{}(key), string_hash{}(std::string_view(key)));
  EXPECT_EQ(string_hash{}(key.c_str()), string_hash{}(std::string_view(key)));
  EXPECT_NE(string_hash::nonzero(""), 0u);
  EXPECT_NE(string_hash{}("a.b"), string_hash{}("a.c"));
}

/// A table keeping its key outside the slot, as the trie's child tables do:
/// erase by identity, release when empty.
TEST(ProbeTable, KeysOutsideTheSlotAndIdentityErase) {
  struct slot {
    std::uint64_t hash = 0;
    const std::string* key = nullptr;
  };
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) keys.push_back("t" + std::to_string(i));
  probe_table<slot> table;
  for (const auto& key : keys) table.add_new(slot{string_hash::nonzero(key), &key});
  EXPECT_EQ(table.size(), keys.size());
  for (const auto& key : keys) {
    const slot* found = table.find(string_hash::nonzero(key), [&](const slot& s) { return *s.key == key; });
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->key, &key);
  }
  for (std::size_t i = 0; i < keys.size(); i += 2) {
    const std::string* doomed = &keys[i];
    EXPECT_TRUE(table.erase(string_hash::nonzero(*doomed), [&](const slot& s) { return s.key == doomed; }));
  }
  EXPECT_EQ(table.size(), keys.size() / 2);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const bool present =
        table.find(string_hash::nonzero(keys[i]), [&](const slot& s) { return *s.key == keys[i]; }) != nullptr;
    EXPECT_EQ(present, i % 2 == 1) << keys[i];
  }
  table.erase_if([](const slot&) { return true; });
  EXPECT_TRUE(table.empty());
  table.release();
  EXPECT_EQ(table.find(1, [](const slot&) { return true; }), nullptr);
}

}  // namespace
}  // namespace courier::broker
