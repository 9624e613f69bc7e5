// read_plain_response_head against response_parser (Beast), the reference: every head the fast
// reader accepts, Beast accepts with the same status, reason, fields, keep-alive, length and
// head size. Heads come from a list of plain and hostile forms and from every single-byte
// mutation of a few plain ones.
#include "proxy/http1/plain_response.hpp"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <string>
#include <vector>

#include "proxy/http1/parser.hpp"

namespace spillway::http1 {
namespace {

namespace bhttp = boost::beast::http;
constexpr size_t limit = 64 * 1024;

struct beast_result {
  bool ok = false;
  size_t head_bytes = 0;
  http::response_head head;
};

beast_result beast_head(std::string_view data) {
  beast_result r;
  response_parser p(r.head);
  p.header_limit(limit);
  p.body_limit(boost::none);
  p.eager(false);
  boost::beast::error_code ec;
  r.head_bytes = p.put(boost::asio::buffer(data.data(), data.size()), ec);
  r.ok = !ec && p.is_header_done();
  return r;
}

std::string fields_of(const http::header_list& h) {
  std::string s;
  for (size_t i = 0; i < h.size(); ++i)
    s += std::string(h.name(i)) + "|" + std::string(h.value(i)) + "|" +
         std::to_string(static_cast<int>(h.id(i))) + "\n";
  return s;
}

// Returns whether the fast reader accepted `data`; when it did, Beast must agree.
bool agrees(const std::string& data) {
  http::response_head fast;
  const size_t n = read_plain_response_head(data, fast, limit);
  if (n == 0) return false;
  const auto b = beast_head(data);
  EXPECT_TRUE(b.ok) << "Beast refuses a head the fast reader took: "
                    << testing::PrintToString(data);
  if (!b.ok) return true;
  EXPECT_EQ(n, b.head_bytes) << testing::PrintToString(data);
  EXPECT_EQ(fast.status, b.head.status) << testing::PrintToString(data);
  EXPECT_EQ(fast.reason, b.head.reason) << testing::PrintToString(data);
  EXPECT_EQ(fast.version, b.head.version) << testing::PrintToString(data);
  EXPECT_EQ(fields_of(fast.headers), fields_of(b.head.headers)) << testing::PrintToString(data);
  EXPECT_EQ(fast.keep_alive, b.head.keep_alive) << testing::PrintToString(data);
  EXPECT_EQ(fast.chunked, b.head.chunked) << testing::PrintToString(data);
  EXPECT_EQ(fast.content_length, b.head.content_length) << testing::PrintToString(data);
  return true;
}

const std::vector<std::string> plain = {
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 22 Nov 2026 12:00:00 GMT\r\n"
    "Content-Type: application/json\r\nContent-Length: 50\r\nConnection: keep-alive\r\n\r\n",
    "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\nxyz",
    "HTTP/1.1 404 \r\nX-A:b\r\nX-Empty:\r\nX-Tabs:\t v \t\r\nContent-Length: 007\r\n\r\n",
    "HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\nX-Obs: caf\xc3\xa9\r\nContent-Length: 1\r\n\r\nA",
};

TEST(PlainResponseHead, PlainHeadsAreReadAsBeastReadsThem) {
  for (const auto& h : plain) EXPECT_TRUE(agrees(h)) << testing::PrintToString(h);
  http::response_head head;
  ASSERT_GT(read_plain_response_head(plain[0], head, limit), 0u);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.content_length, 50u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_EQ(head.headers.find(http::field_id::content_type), "application/json");
  ASSERT_GT(read_plain_response_head(plain[1], head, limit), 0u);
  EXPECT_FALSE(head.keep_alive);
}

TEST(PlainResponseHead, AnythingElseIsLeftToBeast) {
  const std::vector<std::string> refused = {
      "",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",  // incomplete
      "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\n\r\n",  // no length: read until close
      "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, x-hop\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: upgrade\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Fold: a\r\n b\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Bare: a\rb\r\n\r\n",
      "HTTP/1.1 200 OK\nContent-Length: 5\n\n",
      "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\n Content-Length: 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Nul: a" + std::string(1, '\0') + "b\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Del: a\x7f\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 99 Low\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 600 Odd\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.10 200 OK\r\nContent-Length: 5\r\n\r\n",
  };
  http::response_head head;
  for (const auto& h : refused)
    EXPECT_EQ(read_plain_response_head(h, head, limit), 0u) << testing::PrintToString(h);
  // Over the header limit: Beast reports it.
  const std::string big =
      "HTTP/1.1 200 OK\r\nX-Big: " + std::string(limit, 'v') + "\r\nContent-Length: 1\r\n\r\n";
  EXPECT_EQ(read_plain_response_head(big, head, limit), 0u);
}

TEST(PlainResponseHead, EverySingleByteMutationAgreesWithBeast) {
  const std::string bytes = std::string(
      "\0\t\n\r :,;\"\x7f\x80\xff"
      "Aa0-",
      16);
  size_t accepted = 0, tried = 0;
  for (const auto& base : plain) {
    for (size_t i = 0; i <= base.size(); ++i) {
      for (char c : bytes) {
        std::string replaced = base, inserted = base;
        if (i < base.size()) {
          replaced[i] = c;
          accepted += agrees(replaced);
          ++tried;
        }
        inserted.insert(inserted.begin() + static_cast<ptrdiff_t>(i), c);
        accepted += agrees(inserted);
        ++tried;
      }
      if (i < base.size()) {
        std::string erased = base;
        erased.erase(i, 1);
        accepted += agrees(erased);
        ++tried;
      }
    }
  }
  EXPECT_GT(accepted, tried / 10);  // the comparison covered many accepted heads
}

}  // namespace
}  // namespace spillway::http1
