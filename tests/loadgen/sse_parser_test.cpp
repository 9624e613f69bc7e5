#include "loadgen/sse_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spillway::loadgen {
namespace {

struct seen {
  std::string name, data;
  bool operator==(const seen&) const = default;
};

std::vector<seen> parse_in_pieces(const std::string& text, const std::vector<size_t>& cuts) {
  sse_parser p;
  std::vector<seen> out;
  size_t at = 0;
  auto feed = [&](std::string_view s) {
    p.feed(s, [&](const sse_parser::event& e) {
      out.push_back({std::string(e.name), std::string(e.data)});
    });
  };
  for (size_t c : cuts) {
    feed(std::string_view(text).substr(at, c - at));
    at = c;
  }
  feed(std::string_view(text).substr(at));
  return out;
}

const std::string stream =
    "data: {\"a\":1}\n\n"
    ": keep-alive comment\n\n"
    "event: usage\r\ndata: line1\r\ndata: line2\r\n\r\n"
    "data:nospace\r\r"
    "id: 7\nretry: 10\ndata\n\n"
    "data: [DONE]\n\n";

const std::vector<seen> expected = {
    {"", "{\"a\":1}"}, {"usage", "line1\nline2"}, {"", "nospace"}, {"", ""}, {"", "[DONE]"}};

TEST(SseParser, WholeStream) {
  EXPECT_EQ(parse_in_pieces(stream, {}), expected);
}

TEST(SseParser, EverySplitPointGivesTheSameEvents) {
  for (size_t cut = 1; cut < stream.size(); ++cut)
    ASSERT_EQ(parse_in_pieces(stream, {cut}), expected) << "split at " << cut;
}

TEST(SseParser, ByteByByte) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(parse_in_pieces(stream, cuts), expected);
}

TEST(SseParser, JoinedChunksAndCountedEvents) {
  sse_parser p;
  int n = 0;
  p.feed("data: a\n\ndata: b\n\ndata: c\n\n", [&](const sse_parser::event&) { ++n; });
  EXPECT_EQ(n, 3);
  EXPECT_EQ(p.events(), 3u);
}

TEST(SseParser, IncompleteEventIsNotDispatched) {
  sse_parser p;
  int n = 0;
  p.feed("data: partial\n", [&](const sse_parser::event&) { ++n; });
  EXPECT_EQ(n, 0);
  p.feed("\n", [&](const sse_parser::event& e) {
    ++n;
    EXPECT_EQ(e.data, "partial");
  });
  EXPECT_EQ(n, 1);
}

TEST(SseParser, CrLfSplitAcrossFeedsIsOneLineEnd) {
  sse_parser p;
  std::vector<std::string> got;
  const auto cb = [&](const sse_parser::event& e) { got.emplace_back(e.data); };
  p.feed("data: x\r", cb);
  p.feed("\n\r", cb);
  p.feed("\n", cb);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "x");
}

}  // namespace
}  // namespace spillway::loadgen
