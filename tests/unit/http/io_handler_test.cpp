// io_handler: small callables kept in place, large ones on the heap, both moved, called and
// destroyed exactly once; empty and null states as std::function has them.
#include "proxy/http1/io_handler.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>

namespace spillway::http1 {
namespace {

TEST(IoHandler, SmallAndLargeCallablesAreCalledMovedAndReleasedOnce) {
  auto alive = std::make_shared<int>(0);
  size_t got = 0;
  {
    io_handler small = [alive, &got](const error_code&, size_t n) { got += n; };
    std::array<char, 200> pad{};
    io_handler large = [alive, pad, &got](const error_code&, size_t n) { got += n + pad[0]; };
    EXPECT_EQ(alive.use_count(), 3);
    io_handler moved = std::move(small);
    EXPECT_FALSE(small);
    ASSERT_TRUE(moved);
    moved({}, 2);
    io_handler other;
    other = std::move(large);
    EXPECT_FALSE(large);
    other({}, 3);
    EXPECT_EQ(got, 5u);
    EXPECT_EQ(alive.use_count(), 3);
    other = nullptr;
    EXPECT_EQ(alive.use_count(), 2);
  }
  EXPECT_EQ(alive.use_count(), 1);
  io_handler none = nullptr;
  EXPECT_FALSE(none);
}

}  // namespace
}  // namespace spillway::http1
