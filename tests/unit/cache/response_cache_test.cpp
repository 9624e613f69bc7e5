#include "cache/response_cache.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <map>

#include "tests/unit/cache/task_queue.hpp"

namespace spillway::cache {
namespace {

using namespace std::chrono_literals;
using test::task_queue;

// A remote tier in a map; replies go through the caller's dispatcher like the real one.
class fake_remote final : public remote_store {
 public:
  std::map<std::string, std::pair<std::string, std::chrono::milliseconds>> data;
  error_code fail_with;
  int gets = 0, sets = 0;

  void get(std::string key, dispatcher d, get_handler h) override {
    ++gets;
    std::optional<std::string> v;
    if (auto it = data.find(key); it != data.end() && !fail_with) v = it->second.first;
    d([h, v, ec = fail_with] { h(ec, v); });
  }
  void set(std::string key, std::string value, std::chrono::milliseconds ttl, dispatcher d,
           set_handler h) override {
    ++sets;
    if (!fail_with) data[key] = {std::move(value), ttl};
    if (h) d([h, ec = fail_with] { h(ec); });
  }
  void purge(std::string prefix, dispatcher d, purge_handler h) override {
    uint64_t n = std::erase_if(data, [&](const auto& kv) { return kv.first.starts_with(prefix); });
    d([h, n] { h({}, n); });
  }
};

struct cache_fixture : ::testing::Test {
  manual_clock clock;
  std::chrono::system_clock::time_point wall{std::chrono::hours(24 * 365 * 50)};
  std::shared_ptr<fake_remote> remote = std::make_shared<fake_remote>();
  response_cache cache{{.memory_max_bytes = 1 << 20, .max_object_bytes = 64 << 10, .shards = 2},
                       clock,
                       remote,
                       [this] { return wall; }};
  task_queue q;
  config::route_cache_config route{.ttl = 60s, .only_deterministic = true, .stale_if_error = 30s};

  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    wall += d;
  }

  lookup_result remote_lookup(const std::string& key) {
    lookup_result out;
    out.state = lookup_state::fresh;
    bool called = false;
    cache.lookup_remote(key, q.get(), [&](lookup_result r) {
      out = std::move(r);
      called = true;
    });
    EXPECT_FALSE(called);  // never inline
    q.run();
    EXPECT_TRUE(called);
    return out;
  }

  entry_ptr lead_and_finish(const std::string& key, int status, std::string body, bool* stored) {
    auto j = cache.join(key, q.get(), nullptr);
    EXPECT_TRUE(j.is_leader());
    EXPECT_FALSE(j.leader.begin(status, "application/json"));
    EXPECT_FALSE(j.leader.append(body));
    return cache.finish(j.leader, route, stored);
  }
};

TEST_F(cache_fixture, miss_then_store_then_hit_in_both_tiers) {
  EXPECT_EQ(cache.lookup_memory("k").state, lookup_state::miss);
  EXPECT_EQ(remote_lookup("k").state, lookup_state::miss);

  bool stored = false;
  auto e = lead_and_finish("k", 200, R"({"id":"1"})", &stored);
  ASSERT_TRUE(e);
  EXPECT_TRUE(stored);
  EXPECT_EQ(e->stored_at, wall);
  EXPECT_EQ(e->ttl, 60s);
  EXPECT_EQ(e->stale_if_error, 30s);
  EXPECT_EQ(cache.flights().size(), 0u);

  auto m = cache.lookup_memory("k");
  EXPECT_EQ(m.state, lookup_state::fresh);
  ASSERT_TRUE(m.e);
  EXPECT_EQ(m.e->body, R"({"id":"1"})");
  ASSERT_EQ(remote->data.count("k"), 1u);
  EXPECT_EQ(remote->data["k"].second, 90s);  // expiry = ttl + stale_if_error
  entry decoded;
  ASSERT_FALSE(deserialize(remote->data["k"].first, decoded));
  EXPECT_EQ(decoded.body, R"({"id":"1"})");
}

TEST_F(cache_fixture, non_2xx_answers_are_shared_but_not_stored) {
  auto j = cache.join("k", q.get(), nullptr);
  std::vector<int> statuses;
  auto f = cache.join("k", q.get(), [&](const flight_event& ev) {
    if (ev.t == flight_event::type::complete) statuses.push_back(ev.result->status);
  });
  ASSERT_FALSE(j.leader.begin(503, "application/json"));
  ASSERT_FALSE(j.leader.append(R"({"error":{}})"));
  bool stored = true;
  EXPECT_TRUE(cache.finish(j.leader, route, &stored));
  EXPECT_FALSE(stored);
  q.run();
  EXPECT_EQ(statuses, std::vector<int>{503});
  EXPECT_EQ(cache.lookup_memory("k").state, lookup_state::miss);
  EXPECT_EQ(remote->sets, 0);
}

TEST_F(cache_fixture, memory_goes_stale_then_away) {
  bool stored = false;
  lead_and_finish("k", 200, "{}", &stored);
  ASSERT_TRUE(stored);
  advance(59s);
  EXPECT_EQ(cache.lookup_memory("k").state, lookup_state::fresh);
  advance(1s);
  auto r = cache.lookup_memory("k");
  EXPECT_EQ(r.state, lookup_state::stale);
  EXPECT_TRUE(r.e);
  advance(30s);
  EXPECT_EQ(cache.lookup_memory("k").state, lookup_state::miss);
}

TEST_F(cache_fixture, remote_hit_fills_memory_with_the_remaining_windows) {
  // Another replica stored it 50 s ago: 10 s fresh and then 30 s stale remain.
  entry e;
  e.body = R"({"id":"r"})";
  e.content_type = "application/json";
  e.stored_at = wall - 50s;
  e.ttl = 60s;
  e.stale_if_error = 30s;
  remote->data["k"] = {serialize(e), 40s};

  auto r = remote_lookup("k");
  EXPECT_EQ(r.state, lookup_state::fresh);
  ASSERT_TRUE(r.e);
  EXPECT_EQ(r.e->body, R"({"id":"r"})");
  EXPECT_FALSE(r.remote_error);

  auto m = cache.lookup_memory("k");
  EXPECT_EQ(m.state, lookup_state::fresh);
  advance(10s);
  EXPECT_EQ(cache.lookup_memory("k").state, lookup_state::stale);
  EXPECT_EQ(remote_lookup("k").state, lookup_state::stale);
  advance(30s);
  EXPECT_EQ(cache.lookup_memory("k").state, lookup_state::miss);
  EXPECT_EQ(remote_lookup("k").state, lookup_state::miss);
}

TEST_F(cache_fixture, remote_failures_are_misses) {
  remote->fail_with = cache_errc::redis_timeout;
  auto r = remote_lookup("k");
  EXPECT_EQ(r.state, lookup_state::miss);
  EXPECT_EQ(r.remote_error, cache_errc::redis_timeout);

  remote->fail_with = {};
  remote->data["bad"] = {"garbage", 1s};
  auto c = remote_lookup("bad");
  EXPECT_EQ(c.state, lookup_state::miss);
  EXPECT_EQ(c.remote_error, cache_errc::corrupt_entry);
  EXPECT_EQ(cache.lookup_memory("bad").state, lookup_state::miss);
}

TEST_F(cache_fixture, without_remote_the_lookup_is_a_dispatched_miss) {
  response_cache local({.memory_max_bytes = 1 << 20}, clock);
  bool called = false;
  local.lookup_remote("k", q.get(), [&](lookup_result r) {
    called = true;
    EXPECT_EQ(r.state, lookup_state::miss);
    EXPECT_FALSE(r.remote_error);
  });
  EXPECT_FALSE(called);
  q.run();
  EXPECT_TRUE(called);
}

TEST_F(cache_fixture, purge_drops_both_tiers) {
  bool stored = false;
  lead_and_finish("chat:a", 200, "{}", &stored);
  lead_and_finish("chat:b", 200, "{}", &stored);
  lead_and_finish("embed:a", 200, "{}", &stored);
  uint64_t mem = 0, rem = 0;
  cache.purge("chat:", q.get(), [&](error_code ec, uint64_t m, uint64_t r) {
    EXPECT_FALSE(ec);
    mem = m;
    rem = r;
  });
  q.run();
  EXPECT_EQ(mem, 2u);
  EXPECT_EQ(rem, 2u);
  EXPECT_EQ(cache.lookup_memory("chat:a").state, lookup_state::miss);
  EXPECT_EQ(cache.lookup_memory("embed:a").state, lookup_state::fresh);
  EXPECT_EQ(remote->data.size(), 1u);
}

TEST_F(cache_fixture, maintenance_expires_stalled_flights) {
  boost::asio::io_context io;
  response_cache c({.memory_max_bytes = 1 << 20, .flight_idle_timeout = 5s}, clock);
  auto lead = c.join("k", q.get(), nullptr);
  error_code got;
  auto sub = c.join("k", q.get(), [&](const flight_event& ev) {
    if (ev.t == flight_event::type::error) got = ev.ec;
  });
  c.start_maintenance(io.get_executor(), 1ms);
  io.run_for(20ms);  // a few sweeps: nothing is idle yet
  q.run();
  EXPECT_FALSE(got);
  clock.advance(5s);
  io.run_for(20ms);
  q.run();
  EXPECT_EQ(got, cache_errc::flight_timeout);
  c.stop();
  io.run_for(5ms);
}

TEST_F(cache_fixture, options_from_config) {
  config::cache_config c;
  c.memory.max_bytes = 32ull << 20;
  c.max_object_bytes = 1ull << 20;
  auto o = response_cache_options::from_config(c);
  EXPECT_EQ(o.memory_max_bytes, 32ull << 20);
  EXPECT_EQ(o.max_object_bytes, 1ull << 20);
  response_cache rc(o, clock);
  EXPECT_EQ(rc.memory().shard_count(), 16u);
}

}  // namespace
}  // namespace spillway::cache
