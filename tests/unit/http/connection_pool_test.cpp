// proxy/upstream_pool connection_pool: most-recently-used reuse, max_idle, idle-time sweep on
// explicit time points, clear. Sockets are opened (never connected) so that closing is visible.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>

#include "proxy/upstream_pool/connection_pool.hpp"

namespace spillway::upstream_pool {
namespace {

using namespace std::chrono_literals;
using time_point = std::chrono::steady_clock::time_point;

class ConnectionPool : public ::testing::Test {
 protected:
  std::unique_ptr<upstream_connection> make(uint32_t tag) {
    tcp::socket s(io_);
    s.open(tcp::v4());
    auto c = std::make_unique<upstream_connection>(std::move(s));
    c->requests = tag;  // identifies the connection in assertions
    return c;
  }
  /// Takes one connection and returns its tag, or -1 when none.
  static int64_t take_tag(connection_pool& p, size_t endpoint) {
    auto c = p.take(endpoint);
    return c ? static_cast<int64_t>(c->requests) : -1;
  }
  static bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

  boost::asio::io_context io_;
  const time_point t0_ = time_point{} + 1000h;
};

TEST_F(ConnectionPool, EmptyPoolHasNothingToTake) {
  connection_pool p(2, 4, 1s);
  EXPECT_EQ(p.take(0), nullptr);
  EXPECT_EQ(p.take(1), nullptr);
  EXPECT_EQ(p.idle_count(), 0u);
}

TEST_F(ConnectionPool, ReusesMostRecentlyReturnedFirst) {
  connection_pool p(1, 8, 60s);
  p.give_back(0, make(1), t0_);
  p.give_back(0, make(2), t0_ + 1ms);
  p.give_back(0, make(3), t0_ + 2ms);
  EXPECT_EQ(p.idle_count(), 3u);
  EXPECT_EQ(take_tag(p, 0), 3);
  EXPECT_EQ(take_tag(p, 0), 2);
  p.give_back(0, make(4), t0_ + 3ms);
  EXPECT_EQ(take_tag(p, 0), 4);
  EXPECT_EQ(take_tag(p, 0), 1);
  EXPECT_EQ(take_tag(p, 0), -1);
  EXPECT_EQ(p.idle_count(), 0u);
}

TEST_F(ConnectionPool, TakenConnectionIsOpenAndStamped) {
  connection_pool p(1, 8, 60s);
  p.give_back(0, make(1), t0_ + 5ms);
  auto c = p.take(0);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->socket.is_open());
  EXPECT_EQ(c->idle_since, t0_ + 5ms);
}

TEST_F(ConnectionPool, EndpointsAreSeparate) {
  connection_pool p(3, 8, 60s);
  p.give_back(0, make(10), t0_);
  p.give_back(2, make(20), t0_);
  EXPECT_EQ(p.idle_count(), 2u);
  EXPECT_EQ(take_tag(p, 1), -1);
  EXPECT_EQ(take_tag(p, 2), 20);
  EXPECT_EQ(take_tag(p, 2), -1);
  EXPECT_EQ(take_tag(p, 0), 10);
}

TEST_F(ConnectionPool, MaxIdleClosesTheSurplusConnection) {
  connection_pool p(2, 2, 60s);
  p.give_back(0, make(1), t0_);
  p.give_back(0, make(2), t0_);
  auto surplus = make(3);
  const int fd = surplus->socket.native_handle();
  ASSERT_TRUE(fd_open(fd));
  p.give_back(0, std::move(surplus), t0_);
  EXPECT_FALSE(fd_open(fd));
  EXPECT_EQ(p.idle_count(), 2u);
  p.give_back(1, make(4), t0_);  // the limit is per endpoint
  EXPECT_EQ(p.idle_count(), 3u);
  EXPECT_EQ(take_tag(p, 0), 2);
  EXPECT_EQ(take_tag(p, 0), 1);
  EXPECT_EQ(take_tag(p, 0), -1);
}

TEST_F(ConnectionPool, MaxIdleZeroKeepsNothing) {
  connection_pool p(1, 0, 60s);
  p.give_back(0, make(1), t0_);
  EXPECT_EQ(p.idle_count(), 0u);
  EXPECT_EQ(p.take(0), nullptr);
}

TEST_F(ConnectionPool, SweepClosesConnectionsIdleForTheTimeoutOrLonger) {
  connection_pool p(2, 8, 1000ms);
  auto a = make(1);
  const int fd_a = a->socket.native_handle();
  p.give_back(0, std::move(a), t0_);
  p.give_back(0, make(2), t0_ + 500ms);
  p.give_back(1, make(3), t0_ + 200ms);
  p.give_back(0, make(4), t0_ + 900ms);

  p.sweep(t0_ + 999ms);
  EXPECT_EQ(p.idle_count(), 4u);
  EXPECT_TRUE(fd_open(fd_a));

  p.sweep(t0_ + 1000ms);  // exactly the timeout: expired
  EXPECT_EQ(p.idle_count(), 3u);
  EXPECT_FALSE(fd_open(fd_a));

  p.sweep(t0_ + 1200ms);  // endpoint 1's connection too
  EXPECT_EQ(p.idle_count(), 2u);
  EXPECT_EQ(take_tag(p, 1), -1);

  p.sweep(t0_ + 1499ms);
  EXPECT_EQ(p.idle_count(), 2u);
  p.sweep(t0_ + 1500ms);
  EXPECT_EQ(p.idle_count(), 1u);
  EXPECT_EQ(take_tag(p, 0), 4);
}

TEST_F(ConnectionPool, ReturnedConnectionGetsAFreshIdleTime) {
  connection_pool p(1, 8, 1000ms);
  p.give_back(0, make(1), t0_);
  p.give_back(0, make(2), t0_ + 100ms);
  auto c = p.take(0);  // 2
  p.give_back(0, std::move(c), t0_ + 900ms);
  p.sweep(t0_ + 1500ms);  // 1 idle since t0, 2 since t0+900ms
  EXPECT_EQ(p.idle_count(), 1u);
  EXPECT_EQ(take_tag(p, 0), 2);
}

TEST_F(ConnectionPool, SweepOfAnEmptyPoolIsHarmless) {
  connection_pool p(3, 8, 1s);
  p.sweep(t0_);
  EXPECT_EQ(p.idle_count(), 0u);
}

TEST_F(ConnectionPool, ClearClosesEveryIdleConnection) {
  connection_pool p(2, 8, 60s);
  auto a = make(1), b = make(2);
  const int fd_a = a->socket.native_handle(), fd_b = b->socket.native_handle();
  p.give_back(0, std::move(a), t0_);
  p.give_back(1, std::move(b), t0_);
  p.clear();
  EXPECT_EQ(p.idle_count(), 0u);
  EXPECT_FALSE(fd_open(fd_a));
  EXPECT_FALSE(fd_open(fd_b));
  EXPECT_EQ(p.take(0), nullptr);
  p.give_back(0, make(3), t0_);  // still usable
  EXPECT_EQ(take_tag(p, 0), 3);
}

}  // namespace
}  // namespace spillway::upstream_pool
