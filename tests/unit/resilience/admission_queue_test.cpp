#include "proxy/queue/admission_queue.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace spillway::queue {
namespace {

using namespace std::chrono_literals;

config::queue_config make_cfg(uint32_t max_size, config::duration timeout = 30s) {
  config::queue_config c;
  c.max_size = max_size;
  c.timeout = timeout;
  return c;
}

std::string drain(admission_queue<std::string>& q) {
  std::string order;
  while (auto h = q.pop()) order += *h;
  return order;
}

TEST(admission_queue, serves_by_class_then_arrival) {
  manual_clock clock;
  admission_queue<std::string> q(make_cfg(10), clock);
  q.push(priority_class::low, "l1");
  q.push(priority_class::normal, "n1");
  q.push(priority_class::high, "h1");
  q.push(priority_class::normal, "n2");
  q.push(priority_class::high, "h2");
  q.push(priority_class::low, "l2");
  EXPECT_EQ(q.size(), 6u);
  EXPECT_EQ(q.size(priority_class::normal), 2u);
  EXPECT_EQ(drain(q), "h1h2n1n2l1l2");
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.pop());
}

TEST(admission_queue, full_queue_refuses_equal_or_lower_priority) {
  manual_clock clock;
  admission_queue<std::string> q(make_cfg(2), clock);
  ASSERT_TRUE(q.push(priority_class::normal, "a").admitted);
  ASSERT_TRUE(q.push(priority_class::normal, "b").admitted);
  const auto same = q.push(priority_class::normal, "c");
  EXPECT_FALSE(same.admitted);
  EXPECT_FALSE(same.evicted);
  EXPECT_FALSE(q.push(priority_class::low, "d").admitted);
  EXPECT_EQ(drain(q), "ab");
}

TEST(admission_queue, higher_priority_evicts_newest_of_lowest_class) {
  manual_clock clock;
  admission_queue<std::string> q(make_cfg(4), clock);
  q.push(priority_class::normal, "n1");
  q.push(priority_class::low, "l1");
  q.push(priority_class::low, "l2");
  q.push(priority_class::normal, "n2");
  auto r = q.push(priority_class::high, "h1");
  ASSERT_TRUE(r.admitted);
  EXPECT_EQ(r.evicted, "l2");  // lowest class first, newest within it
  r = q.push(priority_class::normal, "n3");
  ASSERT_TRUE(r.admitted);
  EXPECT_EQ(r.evicted, "l1");
  r = q.push(priority_class::high, "h2");  // no low left: the newest normal goes
  ASSERT_TRUE(r.admitted);
  EXPECT_EQ(r.evicted, "n3");
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(drain(q), "h1h2n1n2");
}

TEST(admission_queue, zero_size_refuses_everything) {
  manual_clock clock;
  admission_queue<std::string> q(make_cfg(0), clock);
  EXPECT_FALSE(q.push(priority_class::high, "x").admitted);
}

TEST(admission_queue, waiters_expire_after_timeout) {
  manual_clock clock;
  admission_queue<std::string> q(make_cfg(10, 30s), clock);
  q.push(priority_class::low, "l1");
  clock.advance(10s);
  q.push(priority_class::high, "h1");
  q.push(priority_class::normal, "n1");
  EXPECT_EQ(q.next_deadline(), clock.now() + 20s);  // l1's
  std::vector<std::string> out;
  clock.advance(19s);
  EXPECT_EQ(q.expire(out), 0u);
  clock.advance(1s);
  EXPECT_EQ(q.expire(out), 1u);
  EXPECT_EQ(out, std::vector<std::string>{"l1"});
  EXPECT_EQ(q.next_deadline(), clock.now() + 10s);
  clock.advance(10s);
  EXPECT_EQ(q.expire(out), 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.next_deadline());
}

TEST(admission_queue, cancel_removes_one_waiter) {
  manual_clock clock;
  admission_queue<std::string> q(make_cfg(10), clock);
  q.push(priority_class::normal, "a");
  const ticket b = q.push(priority_class::normal, "b").id;
  q.push(priority_class::normal, "c");
  EXPECT_EQ(q.cancel(b), "b");
  EXPECT_FALSE(q.cancel(b));
  EXPECT_FALSE(q.cancel(12345));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(drain(q), "ac");
}

// Handles may be move-only callbacks; the queue never calls them.
TEST(admission_queue, holds_move_only_handles) {
  manual_clock clock;
  admission_queue<std::unique_ptr<std::function<int()>>> q(make_cfg(1), clock);
  q.push(priority_class::low, std::make_unique<std::function<int()>>([] { return 1; }));
  auto r = q.push(priority_class::high, std::make_unique<std::function<int()>>([] { return 2; }));
  ASSERT_TRUE(r.evicted);
  EXPECT_EQ((**r.evicted)(), 1);
  EXPECT_EQ((**q.pop())(), 2);
}

TEST(locked_admission_queue, concurrent_producers_and_consumers_lose_nothing) {
  manual_clock clock;
  locked_admission_queue<int> q(make_cfg(100'000), clock);
  constexpr int per_thread = 5000;
  std::vector<std::thread> producers;
  for (int t = 0; t < 3; ++t)
    producers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i)
        q.push(static_cast<priority_class>(i % 3), t * per_thread + i);
    });
  std::atomic<long long> sum{0};
  std::atomic<int> taken{0};
  std::thread consumer([&] {
    while (taken.load() < 3 * per_thread) {
      if (auto v = q.pop()) {
        sum += *v;
        ++taken;
      }
    }
  });
  for (auto& p : producers) p.join();
  consumer.join();
  const long long n = 3 * per_thread;
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
  EXPECT_EQ(q.size(), 0u);
}

TEST(priority, parses_header_values) {
  EXPECT_EQ(parse_priority("high"), priority_class::high);
  EXPECT_EQ(parse_priority(" LOW "), priority_class::low);
  EXPECT_EQ(parse_priority("Normal"), priority_class::normal);
  EXPECT_FALSE(parse_priority("urgent"));
  EXPECT_FALSE(parse_priority(""));
  EXPECT_EQ(priority_of("bogus", priority_class::low), priority_class::low);
  EXPECT_EQ(priority_of("high", priority_class::low), priority_class::high);
  EXPECT_EQ(to_string(priority_class::high), "high");
}

}  // namespace
}  // namespace spillway::queue
