#include "cache/key_memo.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "cache/response_cache.hpp"
#include "common/clock.hpp"
#include "task_queue.hpp"

namespace spillway::cache {
namespace {

using opt_view = std::optional<std::string_view>;

constexpr std::string_view body_a =
    R"({"model": "m", "temperature": 0, "messages": [{"role": "user", "content": "hi"}]})";
// body_a written differently: key order, spacing, number spelling.
constexpr std::string_view body_a2 =
    R"({"messages":[{"content":"hi","role":"user"}],"temperature":0.0,"model":"m"})";

struct memo_fixture : ::testing::Test {
  config::route_cache_config route;  // only_deterministic, vary on authorization
  key_memo memo{1 << 20};

  key_result key(std::string_view body, opt_view auth = opt_view("Bearer a"),
                 std::string_view prefix = "chat:", std::string_view target = "/v1/chat",
                 std::string_view method = "POST") {
    std::vector<opt_view> vary{auth};
    return memo.key_for({method, target, body, vary}, route, prefix);
  }
  key_result direct(std::string_view body, opt_view auth = opt_view("Bearer a"),
                    std::string_view prefix = "chat:", std::string_view target = "/v1/chat",
                    std::string_view method = "POST") {
    std::vector<opt_view> vary{auth};
    return make_key({method, target, body, vary}, route, prefix);
  }
};

TEST(siphash, reference_vector) {
  // SipHash paper, appendix A: key 00..0f, message 00..0e.
  const uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
  std::string msg;
  for (char c = 0; c < 15; ++c) msg.push_back(c);
  EXPECT_EQ(siphash24(k0, k1, msg), 0xa129ca6149be45e5ull);
}

TEST(siphash, key_and_every_byte_matter) {
  std::string msg(37, 'x');
  const uint64_t h = siphash13(1, 2, msg);
  EXPECT_NE(h, siphash13(1, 3, msg));
  EXPECT_NE(h, siphash13(2, 2, msg));
  for (size_t i = 0; i < msg.size(); ++i) {
    std::string m = msg;
    m[i] = 'y';
    EXPECT_NE(h, siphash13(1, 2, m)) << i;
  }
  EXPECT_NE(h, siphash13(1, 2, msg + '\0'));
}

TEST(key_material, layout_is_length_framed) {
  config::route_cache_config route;
  route.vary_headers = {"authorization", "x-tenant"};
  std::vector<opt_view> vary{opt_view("Bearer a"), std::nullopt};
  std::string out = "keep";
  append_key_material({"POST", "/v1", "{}", vary}, route, "c:", out);
  using namespace std::string_literals;
  // SHA-256("Bearer a") (FIPS 180-4; Python's hashlib gives the same bytes).
  const std::string bearer_a_sha256 =
      "\x12\x2c\x4e\x37\x1d\x39\x34\x90\xe5\x78\x9c\x41\x8a\xf3\xd3\x85"
      "\x4e\xd0\x7f\x2b\x8b\x08\x7f\x8a\xc4\xb4\x18\xdb\xa0\x1c\xf1\x97"s;
  const std::string expected = "keep"s + "\x02\0\0\0c:"s + "d"s + "\x02\0\0\0"s +
                               "\x0d\0\0\0authorization"s + "="s + "\x20\0\0\0"s + bearer_a_sha256 +
                               "\x08\0\0\0x-tenant"s + "!"s + "\x04\0\0\0POST"s + "\x03\0\0\0/v1"s +
                               "\x02\0\0\0{}"s;
  EXPECT_EQ(out, expected);
  EXPECT_EQ(out.find("Bearer"), std::string::npos) << "a vary value is held as its digest";
}

TEST_F(memo_fixture, repeat_is_a_memo_hit_with_the_canonical_key) {
  const key_result first = key(body_a);
  ASSERT_TRUE(first);
  EXPECT_EQ(first.key, direct(body_a).key);
  EXPECT_EQ(memo.stats().misses, 1u);
  EXPECT_EQ(memo.stats().hits, 0u);
  const key_result again = key(body_a);
  EXPECT_EQ(again.key, first.key);
  EXPECT_EQ(memo.stats().hits, 1u);
  EXPECT_EQ(memo.stats().entries, 1u);
}

TEST_F(memo_fixture, equivalent_body_written_differently_takes_the_canonical_path) {
  const key_result a = key(body_a);
  const key_result b = key(body_a2);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(memo.stats().hits, 0u);
  EXPECT_EQ(memo.stats().misses, 2u);
  EXPECT_EQ(key(body_a2).key, a.key);
  EXPECT_EQ(memo.stats().hits, 1u);
}

TEST_F(memo_fixture, no_hit_across_authorization_route_path_or_method) {
  const key_result a = key(body_a);
  const std::vector<key_result> others{
      key(body_a, opt_view("Bearer b")),                           // another tenant
      key(body_a, std::nullopt),                                   // no Authorization
      key(body_a, opt_view("")),                                   // empty differs from absent
      key(body_a, opt_view("Bearer a"), "other:"),                 // another route
      key(body_a, opt_view("Bearer a"), "chat:", "/v1/chat?x=1"),  // another target
      key(body_a, opt_view("Bearer a"), "chat:", "/v1/chat", "PUT"),
  };
  EXPECT_EQ(memo.stats().hits, 0u);
  EXPECT_EQ(memo.stats().misses, 1 + others.size());
  for (size_t i = 0; i < others.size(); ++i) {
    EXPECT_NE(others[i].key, a.key) << i;
    for (size_t j = 0; j < i; ++j) EXPECT_NE(others[i].key, others[j].key) << i << " " << j;
  }
  EXPECT_EQ(others[3].key.rfind("other:", 0), 0u);
}

TEST_F(memo_fixture, framing_keeps_shifted_boundaries_apart) {
  // The same bytes split differently between header value and target.
  const key_result a = key(body_a, opt_view("Bearer a"), "chat:", "/v1/chat");
  const key_result b = key(body_a, opt_view("Bearer a/v1"), "chat:", "/chat");
  EXPECT_NE(a.key, b.key);
  EXPECT_EQ(memo.stats().hits, 0u);
}

TEST_F(memo_fixture, route_settings_are_part_of_the_material) {
  const std::string_view warm = R"({"model": "m", "temperature": 0.7})";
  EXPECT_EQ(key(warm).reason, not_cacheable::nonzero_temperature);
  EXPECT_EQ(key(warm).reason, not_cacheable::nonzero_temperature);  // memoised refusal
  EXPECT_EQ(memo.stats().hits, 1u);
  route.only_deterministic = false;  // e.g. after a reload
  const key_result r = key(warm);
  EXPECT_TRUE(r);
  EXPECT_EQ(r.key, direct(warm).key);
  EXPECT_EQ(memo.stats().hits, 1u);
  route.vary_headers = {"authorization", "x-tenant"};
  const key_result v = key(warm);
  EXPECT_EQ(memo.stats().hits, 1u);
  EXPECT_NE(v.key, r.key);
}

TEST_F(memo_fixture, stream_flags_come_back_from_the_memo) {
  const std::string_view s =
      R"({"model":"m","temperature":0,"stream":true,"stream_options":{"include_usage":true}})";
  key(s);
  const key_result r = key(s);
  EXPECT_EQ(memo.stats().hits, 1u);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST_F(memo_fixture, purge_drops_matching_items) {
  key(body_a);
  key(body_a, opt_view("Bearer a"), "other:");
  key(R"({"temperature": 1})");  // not cacheable on chat: scope is the prefix
  EXPECT_EQ(memo.stats().entries, 3u);
  EXPECT_EQ(memo.purge("chat:"), 2u);
  EXPECT_EQ(memo.stats().entries, 1u);
  key(body_a);
  EXPECT_EQ(memo.stats().hits, 0u);
  key(body_a, opt_view("Bearer a"), "other:");
  EXPECT_EQ(memo.stats().hits, 1u);
  EXPECT_EQ(memo.purge(""), 2u);
  EXPECT_EQ(memo.stats().entries, 0u);
  EXPECT_EQ(memo.stats().bytes, 0u);
}

TEST(key_memo, bounded_by_bytes_with_lru_eviction) {
  config::route_cache_config route;
  const uint64_t budget = 8 * 1024;
  key_memo memo(budget, 1);
  std::vector<opt_view> vary{opt_view("Bearer a")};
  auto body = [](int i) {
    return R"({"model": "m", "temperature": 0, "n": )" + std::to_string(i) + "}";
  };
  // One item's charge, from the same inputs the memo sees.
  std::string material;
  const std::string b0 = body(0);
  append_key_material({"POST", "/v1", b0, vary}, route, "chat:", material);
  const uint64_t one =
      key_memo::charge(material, make_key({"POST", "/v1", b0, vary}, route, "chat:"), "chat:");
  const uint64_t fits = budget / one;
  ASSERT_GE(fits, 4u);
  for (int i = 0; i < 200; ++i) {
    const std::string b = body(i);
    memo.key_for({"POST", "/v1", b, vary}, route, "chat:");
    EXPECT_LE(memo.stats().bytes, budget);
  }
  const auto st = memo.stats();
  EXPECT_GE(st.entries, fits - 1);
  EXPECT_LE(st.entries, fits + 1);
  EXPECT_EQ(st.evictions, 200 - st.entries);
  // The most recent is still there, the first is gone.
  const std::string last = body(199), first = body(0);
  memo.key_for({"POST", "/v1", last, vary}, route, "chat:");
  EXPECT_EQ(memo.stats().hits, 1u);
  memo.key_for({"POST", "/v1", first, vary}, route, "chat:");
  EXPECT_EQ(memo.stats().hits, 1u);
}

TEST(key_memo, oversized_and_disabled_still_compute_the_key) {
  config::route_cache_config route;
  std::vector<opt_view> vary{opt_view("Bearer a")};
  const std::string big =
      R"({"temperature": 0, "p": ")" + std::string(key_memo::max_material_bytes, 'x') + "\"}";
  key_memo memo(64 << 20);
  const key_request req{"POST", "/v1", big, vary};
  EXPECT_EQ(memo.key_for(req, route, "c:").key, make_key(req, route, "c:").key);
  memo.key_for(req, route, "c:");
  EXPECT_EQ(memo.stats().entries, 0u);
  EXPECT_EQ(memo.stats().hits, 0u);

  key_memo off(0);
  const key_request small{"POST", "/v1", body_a, vary};
  off.key_for(small, route, "c:");
  EXPECT_EQ(off.key_for(small, route, "c:").key, make_key(small, route, "c:").key);
  EXPECT_EQ(off.stats().entries, 0u);
  EXPECT_EQ(off.stats().hits, 0u);
}

TEST(key_memo, response_cache_purge_clears_the_memo_and_hits_stay_correct) {
  manual_clock clock;
  response_cache rc({}, clock);
  config::route_cache_config route;
  std::vector<opt_view> vary{opt_view("Bearer a")};
  const key_request req{"POST", "/v1/chat", body_a, vary};
  const key_result k = rc.key_for(req, route, "chat:");
  auto e = std::make_shared<entry>();
  e->body = R"({"ok":true})";
  e->content_type = "application/json";
  auto t = rc.times_for(route);
  e->stored_at = t.stored_at;
  e->ttl = t.ttl;
  ASSERT_TRUE(rc.store(k.key, e));
  EXPECT_EQ(rc.lookup_memory(rc.key_for(req, route, "chat:").key).state, lookup_state::fresh);
  EXPECT_EQ(rc.keys().stats().hits, 1u);

  test::task_queue q;
  bool done = false;
  rc.purge("chat:", q.get(), [&](error_code, uint64_t memory, uint64_t) {
    EXPECT_EQ(memory, 1u);
    done = true;
  });
  q.run();
  EXPECT_TRUE(done);
  EXPECT_EQ(rc.keys().stats().entries, 0u);
  EXPECT_EQ(rc.lookup_memory(rc.key_for(req, route, "chat:").key).state, lookup_state::miss);
}

TEST(key_memo, concurrent_callers_get_the_canonical_keys) {
  config::route_cache_config route;
  key_memo memo(16 * 1024, 4);
  std::vector<std::string> bodies;
  for (int i = 0; i < 64; ++i)
    bodies.push_back(R"({"temperature": 0, "n": )" + std::to_string(i) + "}");
  std::vector<opt_view> vary{opt_view("Bearer a")};
  std::vector<std::string> expected;
  for (const auto& b : bodies)
    expected.push_back(make_key({"POST", "/v1", b, vary}, route, "c:").key);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<opt_view> v{opt_view("Bearer a")};
      for (int i = 0; i < 2000; ++i) {
        const size_t j = static_cast<size_t>(i * (t + 1) + t) % bodies.size();
        if (memo.key_for({"POST", "/v1", bodies[j], v}, route, "c:").key != expected[j]) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  const auto st = memo.stats();
  EXPECT_LE(st.bytes, 16u * 1024);
  EXPECT_EQ(st.hits + st.misses, 8000u);
  EXPECT_GT(st.hits, 0u);
}

TEST(key_memo, memo_hit_does_not_outlive_the_entry) {
  manual_clock clock;
  response_cache rc({}, clock);
  config::route_cache_config route;
  route.ttl = std::chrono::seconds(10);
  std::vector<opt_view> vary{opt_view("Bearer a")};
  const key_request req{"POST", "/v1/chat", body_a, vary};
  auto e = std::make_shared<entry>();
  e->body = R"({"ok":true})";
  e->content_type = "application/json";
  auto t = rc.times_for(route);
  e->stored_at = t.stored_at;
  e->ttl = t.ttl;
  ASSERT_TRUE(rc.store(rc.key_for(req, route, "chat:").key, e));
  clock.advance(std::chrono::seconds(11));
  EXPECT_EQ(rc.lookup_memory(rc.key_for(req, route, "chat:").key).state, lookup_state::miss);
  EXPECT_EQ(rc.keys().stats().hits, 1u);  // the key came from the memo, the answer did not
}

}  // namespace
}  // namespace spillway::cache
