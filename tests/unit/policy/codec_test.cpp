#include <gtest/gtest.h>

#include "proxy/compression/codec.hpp"

namespace spillway::compression {
namespace {

std::string text(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) s += "token " + std::to_string(i % 97) + ", ";
  s.resize(n);
  return s;
}

TEST(Codec, RoundTripsGzipAndBrotli) {
  const auto in = text(100'000);
  for (auto c : {coding::gzip, coding::deflate, coding::br}) {
    const auto packed = encode(c, in);
    ASSERT_FALSE(packed.empty()) << to_string(c);
    EXPECT_LT(packed.size(), in.size() / 4) << to_string(c);
    const auto out = decode(c, packed, in.size());
    EXPECT_EQ(out.status, decode_status::ok) << to_string(c);
    EXPECT_EQ(out.data, in) << to_string(c);
  }
}

TEST(Codec, CapStopsABombEarly) {
  const std::string zeros(10 << 20, '\0');
  for (auto c : {coding::gzip, coding::deflate, coding::br}) {
    const auto bomb = encode(c, zeros);
    EXPECT_LT(bomb.size(), 64u << 10) << to_string(c);
    const auto out = decode(c, bomb, 1 << 20);
    EXPECT_EQ(out.status, decode_status::too_large) << to_string(c);
    EXPECT_TRUE(out.data.empty());
    // exactly at the cap is fine; one byte under is not
    EXPECT_EQ(decode(c, encode(c, zeros.substr(0, 4096)), 4096).status, decode_status::ok);
    EXPECT_EQ(decode(c, encode(c, zeros.substr(0, 4096)), 4095).status, decode_status::too_large);
  }
}

TEST(Codec, CorruptAndTruncatedInputs) {
  const auto in = text(50'000);
  for (auto c : {coding::gzip, coding::deflate, coding::br}) {
    EXPECT_EQ(decode(c, "definitely not compressed", 1 << 20).status, decode_status::corrupt)
        << to_string(c);
    const auto packed = encode(c, in);
    EXPECT_EQ(decode(c, std::string_view(packed).substr(0, packed.size() / 2), 1 << 20).status,
              decode_status::corrupt)
        << to_string(c);
  }
}

TEST(Codec, Negotiation) {
  const std::vector<std::string> offered{"br", "gzip"};
  EXPECT_EQ(negotiate("gzip, deflate, br", offered), coding::br);
  EXPECT_EQ(negotiate("gzip", offered), coding::gzip);
  EXPECT_EQ(negotiate("br;q=0, gzip;q=0.5", offered), coding::gzip);
  EXPECT_EQ(negotiate("*", offered), coding::br);
  EXPECT_EQ(negotiate("*;q=0", offered), coding::identity);
  EXPECT_EQ(negotiate("", offered), coding::identity);
  EXPECT_EQ(negotiate("deflate", offered), coding::identity);
  EXPECT_EQ(negotiate("deflate", {"deflate"}), coding::deflate);
  EXPECT_EQ(coding_of(" x-gzip "), coding::gzip);
  EXPECT_FALSE(coding_of("compress"));
}

}  // namespace
}  // namespace spillway::compression
