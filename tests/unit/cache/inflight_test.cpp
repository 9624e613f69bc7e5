#include "cache/inflight.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/unit/cache/task_queue.hpp"

namespace spillway::cache {
namespace {

using namespace std::chrono_literals;
using test::task_queue;

// What one follower saw, as text: "head 200 sse", "data x", "complete 3", "error <msg>".
struct recorder {
  std::vector<std::string> seen;
  entry_ptr result;
  flight_listener listener() {
    return [this](const flight_event& ev) {
      switch (ev.t) {
        case flight_event::type::head:
          seen.push_back("head " + std::to_string(ev.status) +
                         (ev.kind == body_kind::sse ? " sse" : " json"));
          break;
        case flight_event::type::data:
          seen.push_back("data " + ev.data);
          break;
        case flight_event::type::complete:
          result = ev.result;
          seen.push_back("complete " + std::to_string(ev.result->events.size()));
          break;
        case flight_event::type::error:
          seen.push_back("error " + ev.ec.message());
          break;
      }
    };
  }
};

struct inflight_fixture : ::testing::Test {
  manual_clock clock;
  inflight_table table{{.max_object_bytes = 1000, .idle_timeout = 10s}, clock};
  task_queue q;
};

TEST_F(inflight_fixture, leader_and_followers_get_the_same_events) {
  auto lead = table.join("k", q.get(), nullptr);
  ASSERT_TRUE(lead.is_leader());
  EXPECT_EQ(lead.leader.key(), "k");
  recorder a, b, late;
  auto fa = table.join("k", q.get(), a.listener());
  auto fb = table.join("k", q.get(), b.listener());
  ASSERT_FALSE(fa.is_leader());
  ASSERT_FALSE(fb.is_leader());
  EXPECT_EQ(table.size(), 1u);

  ASSERT_FALSE(lead.leader.begin(200, "text/event-stream"));
  ASSERT_FALSE(lead.leader.append("data: one\n\nda"));
  q.run();
  EXPECT_EQ(a.seen,
            (std::vector<std::string>{"head 200 sse", "data one"}));  // streamed as it comes
  auto fl = table.join("k", q.get(), late.listener());                // joins mid-stream
  ASSERT_TRUE(fl.subscription);
  ASSERT_FALSE(lead.leader.append("ta: two\n\ndata: [DONE]\n\n"));
  auto e = lead.leader.finish({.ttl = 5000ms});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ttl, 5000ms);
  q.run();
  const std::vector<std::string> expected{"head 200 sse", "data one", "data two", "data [DONE]",
                                          "complete 3"};
  EXPECT_EQ(a.seen, expected);
  EXPECT_EQ(b.seen, expected);
  EXPECT_EQ(late.seen, expected);
  EXPECT_EQ(a.result, e);
  EXPECT_EQ(b.result, e);
  lead.leader.release();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_TRUE(table.join("k", q.get(), nullptr).is_leader());
}

TEST_F(inflight_fixture, json_answer_arrives_whole) {
  auto lead = table.join("k", q.get(), nullptr);
  recorder a;
  auto fa = table.join("k", q.get(), a.listener());
  ASSERT_FALSE(lead.leader.begin(200, "application/json"));
  ASSERT_FALSE(lead.leader.append(R"({"a")"));
  ASSERT_FALSE(lead.leader.append(R"(:1})"));
  lead.leader.finish();
  q.run();
  EXPECT_EQ(a.seen, (std::vector<std::string>{"head 200 json", "complete 0"}));
  ASSERT_TRUE(a.result);
  EXPECT_EQ(a.result->body, R"({"a":1})");
}

TEST_F(inflight_fixture, finished_flight_replays_until_released) {
  auto lead = table.join("k", q.get(), nullptr);
  ASSERT_FALSE(lead.leader.begin(429, "application/json"));
  ASSERT_FALSE(lead.leader.append("{}"));
  ASSERT_TRUE(lead.leader.finish());
  recorder late;
  auto f = table.join("k", q.get(), late.listener());
  ASSERT_FALSE(f.is_leader());
  q.run();
  EXPECT_EQ(late.seen, (std::vector<std::string>{"head 429 json", "complete 0"}));
}

TEST_F(inflight_fixture, leader_failure_reaches_every_follower) {
  auto lead = table.join("k", q.get(), nullptr);
  recorder a, b;
  auto fa = table.join("k", q.get(), a.listener());
  ASSERT_FALSE(lead.leader.begin(200, "text/event-stream"));
  ASSERT_FALSE(lead.leader.append("data: x\n\n"));
  auto fb = table.join("k", q.get(), b.listener());
  lead.leader.fail();
  q.run();
  const std::string err = "error " + make_error_code(cache_errc::leader_failed).message();
  EXPECT_EQ(a.seen, (std::vector<std::string>{"head 200 sse", "data x", err}));
  EXPECT_EQ(b.seen, (std::vector<std::string>{"head 200 sse", "data x", err}));
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(lead.leader);
  EXPECT_TRUE(table.join("k", q.get(), nullptr).is_leader());
}

TEST_F(inflight_fixture, abandoned_leader_fails_followers) {
  recorder a;
  flight_subscription sub;
  {
    auto lead = table.join("k", q.get(), nullptr);
    sub = std::move(table.join("k", q.get(), a.listener()).subscription);
  }  // leader handle destroyed unfinished
  q.run();
  EXPECT_EQ(a.seen, (std::vector<std::string>{
                        "error " + make_error_code(cache_errc::leader_abandoned).message()}));
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(inflight_fixture, oversized_answer_fails_followers_not_leader) {
  auto lead = table.join("k", q.get(), nullptr);
  recorder a;
  auto fa = table.join("k", q.get(), a.listener());
  ASSERT_FALSE(lead.leader.begin(200, "application/json"));
  ASSERT_FALSE(lead.leader.append(std::string(1000, ' ')));
  EXPECT_EQ(lead.leader.append("x"), cache_errc::too_large);
  EXPECT_EQ(table.size(), 0u);  // new requests start their own flight
  EXPECT_FALSE(lead.leader.finish());
  q.run();
  EXPECT_EQ(a.seen.back(), "error " + make_error_code(cache_errc::too_large).message());
}

TEST_F(inflight_fixture, unstorable_content_type_fails_followers) {
  auto lead = table.join("k", q.get(), nullptr);
  recorder a;
  auto fa = table.join("k", q.get(), a.listener());
  EXPECT_EQ(lead.leader.begin(200, "text/html"), cache_errc::not_storable);
  q.run();
  EXPECT_EQ(
      a.seen,
      (std::vector<std::string>{"error " + make_error_code(cache_errc::not_storable).message()}));
}

TEST_F(inflight_fixture, stalled_leader_times_out) {
  auto lead = table.join("k", q.get(), nullptr);
  recorder a;
  auto fa = table.join("k", q.get(), a.listener());
  clock.advance(9s);
  EXPECT_EQ(table.expire(), 0u);
  ASSERT_FALSE(lead.leader.begin(200, "text/event-stream"));  // progress resets the clock
  clock.advance(9s);
  EXPECT_EQ(table.expire(), 0u);
  ASSERT_FALSE(lead.leader.append("data: x\n\n"));
  clock.advance(10s);
  EXPECT_EQ(table.expire(), 1u);
  q.run();
  EXPECT_EQ(a.seen, (std::vector<std::string>{
                        "head 200 sse", "data x",
                        "error " + make_error_code(cache_errc::flight_timeout).message()}));
  EXPECT_EQ(lead.leader.append("data: y\n\n"), cache_errc::flight_timeout);
  EXPECT_TRUE(table.join("k", q.get(), nullptr).is_leader());
}

TEST_F(inflight_fixture, cancelled_follower_hears_nothing_more) {
  auto lead = table.join("k", q.get(), nullptr);
  recorder a, b;
  auto fa = table.join("k", q.get(), a.listener());
  auto fb = table.join("k", q.get(), b.listener());
  ASSERT_FALSE(lead.leader.begin(200, "text/event-stream"));
  fa.subscription.cancel();  // the head is already queued for it: still dropped
  ASSERT_FALSE(lead.leader.append("data: x\n\n"));
  lead.leader.finish();
  q.run();
  EXPECT_TRUE(a.seen.empty());
  EXPECT_EQ(b.seen.size(), 3u);
}

TEST_F(inflight_fixture, followers_on_other_threads_see_one_sequence) {
  constexpr int followers = 4, events = 200;
  inflight_table table{{.max_object_bytes = 1 << 20, .idle_timeout = 10s}, clock};
  auto lead = table.join("k", q.get(), nullptr);
  ASSERT_TRUE(lead.is_leader());
  std::vector<task_queue> queues(followers);
  std::vector<recorder> recs(followers);
  std::atomic<int> joined{0};
  std::vector<std::thread> threads;
  std::vector<flight_subscription> subs(followers);
  for (int i = 0; i < followers; ++i) {
    threads.emplace_back([&, i] {
      subs[i] = std::move(table.join("k", queues[i].get(), recs[i].listener()).subscription);
      joined.fetch_add(1);
      while (recs[i].seen.empty() || !recs[i].seen.back().starts_with("complete")) {
        if (queues[i].run() == 0) std::this_thread::yield();
      }
    });
  }
  EXPECT_FALSE(lead.leader.begin(200, "text/event-stream"));
  for (int n = 0; n < events; ++n) {
    EXPECT_FALSE(lead.leader.append("data: " + std::to_string(n) + "\n\n"));
    if (n == events / 2)
      while (joined.load() < followers) std::this_thread::yield();
  }
  lead.leader.finish();
  for (auto& t : threads) t.join();
  for (int i = 0; i < followers; ++i) {
    ASSERT_EQ(recs[i].seen.size(), static_cast<size_t>(events + 2)) << i;
    EXPECT_EQ(recs[i].seen, recs[0].seen);
  }
}

}  // namespace
}  // namespace spillway::cache
