// Streaming detokenisation: stop strings never leak, UTF-8 stays valid.
#include <gtest/gtest.h>

#include "upstream-engine/runtime/text_stream.hpp"

namespace spillway::engine::runtime {
namespace {

TEST(TextStream, HoldsBackAPossibleStopStringAndDropsIt) {
  text_stream s({"END"});
  bool stopped = false;
  EXPECT_EQ(s.push("hello E", stopped), "hello ");
  EXPECT_FALSE(stopped);
  EXPECT_EQ(s.push("N", stopped), "");
  EXPECT_EQ(s.push("D and more", stopped), "");
  EXPECT_TRUE(stopped);
}

TEST(TextStream, ReleasesHeldTextWhenTheStopStringDoesNotComplete) {
  text_stream s({"END", "xy"});
  bool stopped = false;
  EXPECT_EQ(s.push("aE", stopped), "a");
  EXPECT_EQ(s.push("Nx", stopped), "EN");
  EXPECT_EQ(s.push("z", stopped), "xz");
  EXPECT_EQ(s.push("b", stopped), "b");
  EXPECT_EQ(s.push("x", stopped), "");
  EXPECT_EQ(s.flush(), "x");
  EXPECT_FALSE(stopped);
}

TEST(TextStream, StopsAtTheEarliestStopString) {
  text_stream s({"cd", "b"});
  bool stopped = false;
  EXPECT_EQ(s.push("abcd", stopped), "a");
  EXPECT_TRUE(stopped);
}

TEST(TextStream, NeverSplitsAUtf8Character) {
  text_stream s;
  bool stopped = false;
  EXPECT_EQ(s.push("a\xE2", stopped), "a");
  EXPECT_EQ(s.push("\x9C", stopped), "");
  EXPECT_EQ(s.push("\x93z", stopped), "\xE2\x9C\x93z");
}

TEST(TextStream, ReplacesInvalidBytes) {
  EXPECT_EQ(sanitize_utf8("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize_utf8("\xC3"), "\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  text_stream s;
  bool stopped = false;
  EXPECT_EQ(s.push("\xC3", stopped), "");
  EXPECT_EQ(s.push("x", stopped), "\xEF\xBF\xBDx");
  EXPECT_EQ(s.push("\xF0\x9F", stopped), "");
  EXPECT_EQ(s.flush(), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Utf8, CompletePrefix) {
  EXPECT_EQ(utf8_complete_prefix("ab"), 2u);
  EXPECT_EQ(utf8_complete_prefix("a\xC3"), 1u);
  EXPECT_EQ(utf8_complete_prefix("a\xC3\xA9"), 3u);
  EXPECT_EQ(utf8_complete_prefix("a\xF0\x9F\x98"), 1u);
  EXPECT_EQ(utf8_complete_prefix("a\xF0\x9F\x98\x80"), 5u);
}

}  // namespace
}  // namespace spillway::engine::runtime
