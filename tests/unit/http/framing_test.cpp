// proxy/http1: raw_head_is_clean (RFC 9112 §2.2, §5.2), body_framer output bytes, head_writer.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "proxy/http1/head_writer.hpp"
#include "proxy/http1/parser.hpp"

namespace spillway::http1 {
namespace {

using namespace std::string_literals;

const std::string clean_head =
    "POST /v1/chat HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Tab:\ta\tb\r\nX-Utf8: \xc3\xa9\r\n\r\n";

TEST(RawHead, CleanHeadPasses) {
  EXPECT_TRUE(raw_head_is_clean(clean_head));
  EXPECT_TRUE(raw_head_is_clean("HTTP/1.1 200 OK\r\n\r\n"));
  EXPECT_TRUE(raw_head_is_clean("GET / HTTP/1.1\r\n"));  // partial, but nothing bad in it
}

TEST(RawHead, EmptyInputIsClean) {
  EXPECT_TRUE(raw_head_is_clean(std::string_view("", 0)));
}

// A default-constructed view has a null data(); raw_head_is_clean passes it to memchr, which
// is undefined behaviour even with length 0 (UBSan: "null pointer passed as argument 1").
TEST(RawHead, NullEmptyViewIsCleanWithoutUndefinedBehaviour) {
  EXPECT_TRUE(raw_head_is_clean(std::string_view()));
}

TEST(RawHead, NulAnywhereIsRefused) {
  for (size_t i = 0; i < clean_head.size(); ++i) {
    std::string h = clean_head;
    h.insert(i, 1, '\0');
    EXPECT_FALSE(raw_head_is_clean(h)) << "NUL at " << i;
  }
  EXPECT_FALSE(raw_head_is_clean("\0"s));
}

TEST(RawHead, BareCrIsRefused) {
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\rHost: h\r\n\r\n"));
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\r\nHost: h\rx\r\n\r\n"));
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\r\nHost: h\r\n\r"));  // CR as the last byte
  EXPECT_FALSE(raw_head_is_clean("\r"));
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\r\r\n\r\n"));
  // Every CRLF of a clean head with its LF replaced.
  for (size_t i = clean_head.find('\n'); i != std::string::npos; i = clean_head.find('\n', i + 1)) {
    std::string h = clean_head;
    h[i] = 'x';
    EXPECT_FALSE(raw_head_is_clean(h)) << "LF at " << i << " replaced";
  }
}

TEST(RawHead, BareLfIsRefused) {
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\nHost: h\r\n\r\n"));
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\r\nHost: h\r\n\n"));
  EXPECT_FALSE(raw_head_is_clean("\nGET / HTTP/1.1\r\n\r\n"));  // LF as the first byte
  EXPECT_FALSE(raw_head_is_clean("\n"));
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\r\nX: a\n\r\n\r\n"));
  for (size_t i = clean_head.find('\r'); i != std::string::npos; i = clean_head.find('\r', i + 1)) {
    std::string h = clean_head;
    h[i] = 'x';
    EXPECT_FALSE(raw_head_is_clean(h)) << "CR at " << i << " replaced";
  }
}

TEST(RawHead, ObsFoldIsRefused) {
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"));
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n"));
  // Whitespace before the first field line (RFC 9112 §2.2) is caught by the same rule.
  EXPECT_FALSE(raw_head_is_clean("GET / HTTP/1.1\r\n Host: h\r\n\r\n"));
  EXPECT_FALSE(raw_head_is_clean("HTTP/1.1 200 OK\r\nA: b\r\n \r\n\r\n"));
}

TEST(RawHead, WhitespaceInsideLinesIsNotFolding) {
  EXPECT_TRUE(raw_head_is_clean("GET / HTTP/1.1\r\nX-A:  a \t \r\n\r\n"));
}

// ------------------------------------------------------------------ body_framer

TEST(BodyFramer, NoneDropsEverything) {
  std::string out = "head";
  body_framer f;
  f.reset(&out, framing::none);
  f.piece("abc");
  f.finish();
  EXPECT_EQ(out, "head");
  EXPECT_EQ(f.mode(), framing::none);
}

TEST(BodyFramer, LengthAndCloseDelimitedAppendBytesAsTheyAre) {
  for (framing m : {framing::length, framing::close_delimited}) {
    std::string out = "head|";
    body_framer f;
    f.reset(&out, m);
    f.piece("abc");
    f.piece("");
    f.piece(std::string_view("\0\r\n", 3));
    f.finish();
    EXPECT_EQ(out, "head|abc\0\r\n"s);
    EXPECT_EQ(f.mode(), m);
  }
}

std::string chunk_of(size_t n) {
  std::string out;
  body_framer f;
  f.reset(&out, framing::chunked);
  f.piece(std::string(n, 'x'));
  return out;
}

TEST(BodyFramer, ChunkSizesAreLowerCaseHexWithoutLeadingZeros) {
  const std::pair<size_t, const char*> sizes[] = {
      {1, "1"},        {9, "9"},        {10, "a"},        {15, "f"},           {16, "10"},
      {17, "11"},      {255, "ff"},     {256, "100"},     {4095, "fff"},       {4096, "1000"},
      {48879, "beef"}, {65535, "ffff"}, {65536, "10000"}, {1u << 20, "100000"}};
  for (const auto& [n, hex] : sizes) {
    const std::string expect = std::string(hex) + "\r\n" + std::string(n, 'x') + "\r\n";
    EXPECT_EQ(chunk_of(n), expect) << n;
  }
}

TEST(BodyFramer, ChunkedEmptyPieceWritesNothing) {
  // An empty chunk would be the last-chunk marker and end the body early.
  EXPECT_EQ(chunk_of(0), "");
}

TEST(BodyFramer, ChunkedPiecesAndFinish) {
  std::string out = "HEAD\r\n\r\n";
  body_framer f;
  f.reset(&out, framing::chunked);
  f.piece("hello");
  f.piece(" ");
  f.piece("world, this is 26 bytes!!!");
  f.finish();
  EXPECT_EQ(out,
            "HEAD\r\n\r\n5\r\nhello\r\n1\r\n \r\n1a\r\nworld, this is 26 bytes!!!\r\n0\r\n\r\n");
}

TEST(BodyFramer, ChunkedFinishAloneIsTheLastChunk) {
  std::string out;
  body_framer f;
  f.reset(&out, framing::chunked);
  f.finish();
  EXPECT_EQ(out, "0\r\n\r\n");
}

TEST(BodyFramer, ResetRedirectsOutput) {
  std::string a, b;
  body_framer f;
  f.reset(&a, framing::chunked);
  f.piece("x");
  f.reset(&b, framing::length);
  f.piece("y");
  f.finish();
  EXPECT_EQ(a, "1\r\nx\r\n");
  EXPECT_EQ(b, "y");
}

// ------------------------------------------------------------------ head_writer

TEST(HeadWriter, WritesPiecesNumbersAndFields) {
  std::string out;
  {
    head_writer w(out, 256);
    w.put("HTTP/1.1 ").number(200).put(' ').put("OK").put("\r\n");
    w.field("Content-Type", "text/plain").field("X-Empty", "");
    w.put("Content-Length: ").number(0).put("\r\n\r\n");
  }
  EXPECT_EQ(
      out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Empty: \r\nContent-Length: 0\r\n\r\n");
}

TEST(HeadWriter, NumbersAtTheEdges) {
  const std::pair<uint64_t, const char*> values[] = {{0, "0"},
                                                     {7, "7"},
                                                     {10, "10"},
                                                     {99, "99"},
                                                     {100, "100"},
                                                     {1234567890, "1234567890"},
                                                     {UINT64_MAX, "18446744073709551615"}};
  for (const auto& [v, text] : values) {
    std::string out;
    {
      head_writer w(out, 20);
      w.number(v);
    }
    EXPECT_EQ(out, text);
  }
}

TEST(HeadWriter, AppendsAfterExistingContentAndTrimsTheReservation) {
  std::string out = "prefix|";
  {
    head_writer w(out, 1000);
    EXPECT_EQ(out.size(), 7u + 1000u);  // the reservation is made up front
    EXPECT_EQ(out.substr(0, 7), "prefix|");
    w.put("abc");
  }
  EXPECT_EQ(out, "prefix|abc");
}

TEST(HeadWriter, ExactReservationIsEnough) {
  const std::string name = "X-Request-Id", value = "0123456789abcdef";
  std::string out = "p";
  {
    head_writer w(out, name.size() + value.size() + 4);
    w.field(name, value);
  }
  EXPECT_EQ(out, "pX-Request-Id: 0123456789abcdef\r\n");
}

TEST(HeadWriter, EmptyWriteLeavesTheStringAsItWas) {
  std::string out = "keep";
  { head_writer w(out, 64); }
  EXPECT_EQ(out, "keep");
}

TEST(HeadWriter, ReusedStringAfterClearStartsAtZero) {
  std::string out(500, 'z');
  out.clear();
  {
    head_writer w(out, 10);
    w.put("ok");
  }
  EXPECT_EQ(out, "ok");
}

}  // namespace
}  // namespace spillway::http1
