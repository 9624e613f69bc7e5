#include "loadgen/http1_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spillway::loadgen {
namespace {

struct recorder : http1_parser::sink {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int body_calls = 0;
  void on_status(int s) override { status = s; }
  void on_header(std::string_view n, std::string_view v) override { headers.emplace_back(n, v); }
  void on_body(std::string_view b) override {
    body.append(b);
    ++body_calls;
  }
};

/// Feeds `text` in pieces of `step` bytes the way a connection does: unconsumed bytes are
/// presented again with the next piece.
http1_parser::result run(http1_parser& p, recorder& r, const std::string& text, size_t step,
                         size_t* leftover = nullptr) {
  std::string buf;
  size_t at = 0;
  http1_parser::result res = http1_parser::result::need_more;
  while (at < text.size()) {
    buf += text.substr(at, step);
    at += step;
    size_t used = 0;
    res = p.feed(buf, used, r);
    buf.erase(0, used);
    if (res != http1_parser::result::need_more) break;
  }
  if (leftover) *leftover = buf.size() + (at < text.size() ? text.size() - at : 0);
  return res;
}

const std::string sized =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Status: spillway; hit\r\n\r\nhello";
const std::string chunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
    "7;ext=1\r\ndata: a\r\n3\r\n\n\nx\r\n0\r\nTrailer: y\r\n\r\n";

TEST(Http1Parser, ContentLengthAtEverySplit) {
  for (size_t step = 1; step <= sized.size(); ++step) {
    http1_parser p;
    recorder r;
    p.reset();
    ASSERT_EQ(run(p, r, sized, step), http1_parser::result::done) << step;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello");
    ASSERT_EQ(r.headers.size(), 2u);
    EXPECT_EQ(r.headers[1].second, "spillway; hit");
    EXPECT_TRUE(p.keep_alive());
  }
}

TEST(Http1Parser, ChunkedWithExtensionsAndTrailersAtEverySplit) {
  for (size_t step = 1; step <= chunked.size(); ++step) {
    http1_parser p;
    recorder r;
    p.reset();
    ASSERT_EQ(run(p, r, chunked, step), http1_parser::result::done) << step;
    EXPECT_EQ(r.body, "data: a\n\nx");
  }
}

TEST(Http1Parser, SkipsInterimResponses) {
  http1_parser p;
  recorder r;
  p.reset();
  EXPECT_EQ(run(p, r, "HTTP/1.1 100 Continue\r\n\r\n" + sized, 1000), http1_parser::result::done);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.size(), 2u);
}

TEST(Http1Parser, CloseDelimitedBodyEndsAtEof) {
  http1_parser p;
  recorder r;
  p.reset();
  EXPECT_EQ(run(p, r, "HTTP/1.1 200 OK\r\n\r\nabc", 1000), http1_parser::result::need_more);
  EXPECT_EQ(r.body, "abc");
  EXPECT_FALSE(p.keep_alive());
  EXPECT_EQ(p.on_eof(), http1_parser::result::done);
}

TEST(Http1Parser, EofInsideSizedBodyIsAnError) {
  http1_parser p;
  recorder r;
  p.reset();
  run(p, r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1000);
  EXPECT_EQ(p.on_eof(), http1_parser::result::error);
}

TEST(Http1Parser, KeepAliveRules) {
  for (auto [text, keep] : std::vector<std::pair<std::string, bool>>{
           {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
           {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
           {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true},
           {"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n",
            false}}) {
    http1_parser p;
    recorder r;
    p.reset();
    ASSERT_EQ(run(p, r, text, 1000), http1_parser::result::done) << text;
    EXPECT_EQ(p.keep_alive(), keep) << text;
  }
}

TEST(Http1Parser, NoBodyForHeadAnd204) {
  http1_parser p;
  recorder r;
  p.reset(true);
  EXPECT_EQ(run(p, r, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 1000),
            http1_parser::result::done);
  p.reset();
  EXPECT_EQ(run(p, r, "HTTP/1.1 204 No Content\r\n\r\n", 1000), http1_parser::result::done);
}

TEST(Http1Parser, StopsAtTheEndOfOneResponse) {
  http1_parser p;
  recorder r;
  p.reset();
  size_t used = 0;
  const std::string two = sized + sized;
  EXPECT_EQ(p.feed(two, used, r), http1_parser::result::done);
  EXPECT_EQ(used, sized.size());
}

TEST(Http1Parser, RejectsWhatItCannotFrame) {
  for (const std::string bad :
       {"HTTX/1.1 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    http1_parser p;
    recorder r;
    p.reset();
    EXPECT_EQ(run(p, r, bad, 1000), http1_parser::result::error) << bad;
  }
}

TEST(Http1Parser, CaseInsensitiveNames) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_FALSE(iequals("Content-Length", "content-lengt"));
}

}  // namespace
}  // namespace spillway::loadgen
