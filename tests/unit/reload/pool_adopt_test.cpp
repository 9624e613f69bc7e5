// Idle upstream connections move to the new pool for endpoints that stay.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "proxy/upstream_pool/connection_pool.hpp"

namespace spillway::upstream_pool {
namespace {

using clock = std::chrono::steady_clock;

std::unique_ptr<upstream_connection> open_connection(boost::asio::io_context& io, uint32_t tag) {
  auto c = std::make_unique<upstream_connection>(tcp::socket(io));
  c->socket.open(tcp::v4());
  c->requests = tag;
  return c;
}

TEST(PoolAdopt, MovesIdleConnectionsKeepingTheNewestWithinMaxIdle) {
  boost::asio::io_context io;
  connection_pool before(2, 8, std::chrono::seconds(60));
  const auto t0 = clock::now();
  for (uint32_t i = 1; i <= 3; ++i) before.give_back(1, open_connection(io, i), t0);
  before.give_back(0, open_connection(io, 10), t0);

  connection_pool after(1, 2, std::chrono::seconds(60));
  after.adopt(0, before, 1);
  EXPECT_EQ(after.idle_count(), 2u);
  EXPECT_EQ(before.idle_count(), 1u) << "only endpoint 1's connections move";
  auto newest = after.take(0);
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->requests, 3u);
  EXPECT_TRUE(newest->socket.is_open());
  EXPECT_EQ(after.take(0)->requests, 2u);
  EXPECT_FALSE(after.take(0));
}

TEST(PoolAdopt, AdoptedConnectionsKeepTheirIdleTime) {
  boost::asio::io_context io;
  connection_pool before(1, 8, std::chrono::seconds(10));
  const auto t0 = clock::now();
  before.give_back(0, open_connection(io, 1), t0);
  connection_pool after(1, 8, std::chrono::seconds(10));
  after.adopt(0, before, 0);
  after.sweep(t0 + std::chrono::seconds(5));
  EXPECT_EQ(after.idle_count(), 1u);
  after.sweep(t0 + std::chrono::seconds(11));
  EXPECT_EQ(after.idle_count(), 0u);
}

}  // namespace
}  // namespace spillway::upstream_pool
