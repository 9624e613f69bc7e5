#include "cache/memory_store.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace spillway::cache {
namespace {

using namespace std::chrono_literals;

entry_ptr make_entry(size_t body_bytes) {
  auto e = std::make_shared<entry>();
  e->content_type = "application/json";
  e->body.assign(body_bytes, 'x');
  return e;
}

uint64_t charge_of(std::string_view key, size_t body_bytes) {
  return memory_store::charge(key, *make_entry(body_bytes));
}

TEST(memory_store, charge_is_key_plus_footprint_plus_overhead) {
  auto e = make_entry(100);
  EXPECT_EQ(memory_store::charge("k1", *e), 2 + e->footprint() + memory_store::per_item_overhead);
  EXPECT_EQ(e->footprint(), sizeof(entry) + e->content_type.size() + 100);
  auto s = std::make_shared<entry>();
  s->kind = body_kind::sse;
  s->events = {"abc", "de"};
  EXPECT_EQ(s->footprint(), sizeof(entry) + 2 * sizeof(std::string) + 5);
}

TEST(memory_store, byte_accounting_is_exact) {
  manual_clock clock;
  memory_store m(1 << 20, 1, clock);
  uint64_t expected = 0;
  for (int i = 0; i < 10; ++i) {
    std::string k = "key" + std::to_string(i);
    ASSERT_TRUE(m.insert(k, make_entry(100 + i), 1min, 0s));
    expected += charge_of(k, 100 + i);
    EXPECT_EQ(m.bytes(), expected);
  }
  EXPECT_EQ(m.size(), 10u);
  // Replacing an item charges the new size only.
  ASSERT_TRUE(m.insert("key3", make_entry(1000), 1min, 0s));
  expected += charge_of("key3", 1000) - charge_of("key3", 103);
  EXPECT_EQ(m.bytes(), expected);
  EXPECT_EQ(m.size(), 10u);
  ASSERT_TRUE(m.erase("key0"));
  expected -= charge_of("key0", 100);
  EXPECT_EQ(m.bytes(), expected);
  EXPECT_FALSE(m.erase("key0"));
  EXPECT_EQ(m.purge(""), 9u);
  EXPECT_EQ(m.bytes(), 0u);
  EXPECT_EQ(m.size(), 0u);
}

TEST(memory_store, evicts_least_recently_used_first) {
  manual_clock clock;
  const uint64_t item = charge_of("k0", 500);
  memory_store m(item * 3, 1, clock);  // room for exactly three
  ASSERT_TRUE(m.insert("k0", make_entry(500), 1min, 0s));
  ASSERT_TRUE(m.insert("k1", make_entry(500), 1min, 0s));
  ASSERT_TRUE(m.insert("k2", make_entry(500), 1min, 0s));
  EXPECT_EQ(m.bytes(), item * 3);
  EXPECT_EQ(m.evictions(), 0u);
  ASSERT_TRUE(m.find("k0"));  // k0 is now the most recent; k1 the least
  ASSERT_TRUE(m.insert("k3", make_entry(500), 1min, 0s));
  EXPECT_EQ(m.evictions(), 1u);
  EXPECT_FALSE(m.find("k1"));
  EXPECT_TRUE(m.find("k0"));
  EXPECT_TRUE(m.find("k2"));
  EXPECT_TRUE(m.find("k3"));
  EXPECT_EQ(m.bytes(), item * 3);
  // A bigger item pushes out as many as needed, oldest first (k2 was read before k0, k3).
  ASSERT_TRUE(m.insert("k4", make_entry(1000), 1min, 0s));
  EXPECT_FALSE(m.find("k2"));
  EXPECT_FALSE(m.find("k0"));
  EXPECT_TRUE(m.find("k3"));
  EXPECT_TRUE(m.find("k4"));
  EXPECT_EQ(m.bytes(), charge_of("k3", 500) + charge_of("k4", 1000));
  EXPECT_LE(m.bytes(), item * 3);
}

TEST(memory_store, refuses_items_larger_than_a_shard) {
  manual_clock clock;
  memory_store m(4000, 4, clock);
  EXPECT_EQ(m.shard_budget(), 1000u);
  EXPECT_FALSE(m.insert("big", make_entry(2000), 1min, 0s));
  EXPECT_EQ(m.bytes(), 0u);
  EXPECT_TRUE(m.insert("small", make_entry(10), 1min, 0s));
}

TEST(memory_store, fresh_then_stale_then_gone) {
  manual_clock clock;
  memory_store m(1 << 20, 2, clock);
  ASSERT_TRUE(m.insert("k", make_entry(10), 10s, 5s));
  auto h = m.find("k");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->state, freshness::fresh);
  clock.advance(9999ms);
  EXPECT_EQ(m.find("k")->state, freshness::fresh);
  clock.advance(1ms);
  EXPECT_EQ(m.find("k")->state, freshness::stale);
  clock.advance(4999ms);
  EXPECT_EQ(m.find("k")->state, freshness::stale);
  clock.advance(1ms);
  EXPECT_FALSE(m.find("k"));
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.bytes(), 0u);
}

TEST(memory_store, no_stale_window_means_gone_at_ttl) {
  manual_clock clock;
  memory_store m(1 << 20, 1, clock);
  ASSERT_TRUE(m.insert("k", make_entry(10), 1s, 0s));
  clock.advance(1s);
  EXPECT_FALSE(m.find("k"));
  EXPECT_FALSE(m.insert("dead", make_entry(10), 0s, 0s));
}

TEST(memory_store, expired_items_at_the_back_go_without_counting_as_evictions) {
  manual_clock clock;
  const uint64_t item = charge_of("k0", 500);
  memory_store m(item * 2, 1, clock);
  ASSERT_TRUE(m.insert("k0", make_entry(500), 1s, 0s));
  ASSERT_TRUE(m.insert("k1", make_entry(500), 1h, 0s));
  ASSERT_TRUE(m.find("k1"));  // k0 is now the least recently used, and it has expired
  clock.advance(2s);
  ASSERT_TRUE(m.insert("k2", make_entry(10), 1h, 0s));
  EXPECT_TRUE(m.find("k1"));  // expired k0 was dropped, nothing live was evicted
  EXPECT_TRUE(m.find("k2"));
  EXPECT_EQ(m.evictions(), 0u);
  EXPECT_EQ(m.bytes(), charge_of("k1", 500) + charge_of("k2", 10));
}

TEST(memory_store, purge_by_prefix) {
  manual_clock clock;
  memory_store m(1 << 20, 4, clock);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(m.insert("chat:" + std::to_string(i), make_entry(10), 1min, 0s));
    ASSERT_TRUE(m.insert("embed:" + std::to_string(i), make_entry(10), 1min, 0s));
  }
  EXPECT_EQ(m.purge("chat:"), 20u);
  EXPECT_EQ(m.size(), 20u);
  EXPECT_FALSE(m.find("chat:3"));
  EXPECT_TRUE(m.find("embed:3"));
  EXPECT_EQ(m.bytes(),
            20 * charge_of("embed:0", 10) + 10 * 1);  // "embed:10".."19" are one byte longer
}

TEST(memory_store, shard_count_keeps_objects_fitting) {
  EXPECT_EQ(memory_store::shards_for(256ull << 20, 8ull << 20), 16u);
  EXPECT_EQ(memory_store::shards_for(32ull << 20, 8ull << 20), 4u);
  EXPECT_EQ(memory_store::shards_for(1ull << 20, 8ull << 20), 1u);
}

TEST(memory_store, concurrent_readers_and_writers_keep_accounting) {
  manual_clock clock;
  memory_store m(200'000, 8, clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string k = "k" + std::to_string((i * 7 + t) % 300);
        if (i % 3 == 0)
          m.insert(k, make_entry(static_cast<size_t>(50 + i % 200)), std::chrono::minutes(1), {});
        else
          m.find(k);
      }
    });
  }
  for (auto& th : threads) th.join();
  // Recompute from what is resident.
  uint64_t sum = 0;
  size_t n = 0;
  for (int i = 0; i < 300; ++i) {
    std::string k = "k" + std::to_string(i);
    if (auto h = m.find(k)) {
      sum += memory_store::charge(k, *h->e);
      ++n;
    }
  }
  EXPECT_EQ(m.size(), n);
  EXPECT_EQ(m.bytes(), sum);
  EXPECT_LE(m.bytes(), 200'000u);
}

}  // namespace
}  // namespace spillway::cache
