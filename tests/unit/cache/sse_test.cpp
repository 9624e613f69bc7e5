#include "cache/sse.hpp"

#include <gtest/gtest.h>

namespace spillway::cache {
namespace {

std::vector<std::string> parse_all(std::string_view bytes) {
  sse_parser p;
  std::vector<std::string> out;
  p.feed(bytes, out);
  return out;
}

TEST(sse_parser, line_endings_and_fields) {
  EXPECT_EQ(parse_all("data: a\n\n"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(parse_all("data: a\r\n\r\n"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(parse_all("data: a\r\rdata: b\r\r"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parse_all("data:a\n\n"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(parse_all("data:  a\n\n"), (std::vector<std::string>{" a"}));
  EXPECT_EQ(parse_all("data: a\ndata: b\n\n"), (std::vector<std::string>{"a\nb"}));
  EXPECT_EQ(parse_all("data\n\n"), (std::vector<std::string>{""}));
  EXPECT_EQ(parse_all("event: x\nid: 3\nretry: 10\ndata: a\n\n"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(parse_all(": keep-alive\n\n"), (std::vector<std::string>{}));
  EXPECT_EQ(parse_all("event: only\n\n"), (std::vector<std::string>{}));
  EXPECT_EQ(parse_all("data: unfinished\n"), (std::vector<std::string>{}));
}

TEST(sse_parser, byte_by_byte_matches_whole) {
  const std::string s = "data: one\r\n\r\ndata: two\rdata: 2b\r\r: c\n\ndata: three\n\n";
  sse_parser p;
  std::vector<std::string> out;
  for (char c : s) p.feed(std::string_view(&c, 1), out);
  EXPECT_EQ(out, parse_all(s));
  EXPECT_EQ(out, (std::vector<std::string>{"one", "two\n2b", "three"}));
  EXPECT_EQ(p.pending_bytes(), 0u);
}

TEST(sse_format, framing_round_trips) {
  EXPECT_EQ(format_sse_event("x"), "data: x\n\n");
  EXPECT_EQ(format_sse_event("a\nb"), "data: a\ndata: b\n\n");
  EXPECT_EQ(format_sse_event(""), "data: \n\n");
  for (std::string payload : {"[DONE]", "a\nb", " lead", "", "{\"k\":\"v\"}"})
    EXPECT_EQ(parse_all(format_sse_event(payload)), (std::vector<std::string>{payload}));
}

}  // namespace
}  // namespace spillway::cache
