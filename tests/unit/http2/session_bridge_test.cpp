// stream_bridge in memory: an HTTP/2 request head and body come out as HTTP/1.1 request bytes
// for the session, and the session's HTTP/1.1 response bytes go back to the port as a head,
// body pieces and trailers. A recording port stands in for the connection driver.
#include "proxy/http2/session_bridge.hpp"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

namespace spillway::http2 {
namespace {

namespace asio = boost::asio;

class recording_port final : public http::downstream_port {
 public:
  void send_head(const http::response_head& head, bool end_stream) override {
    status = head.status;
    for (size_t i = 0; i < head.headers.size(); ++i)
      headers += std::string(head.headers.name(i)) + "=" + std::string(head.headers.value(i)) + ";";
    head_end_stream = end_stream;
    ++heads;
  }
  bool send_body(std::string_view data) override {
    body.append(data);
    ++pieces;
    return accept_more;
  }
  void end_body(const http::header_list* t) override {
    ended = true;
    if (t)
      for (size_t i = 0; i < t->size(); ++i)
        trailers += std::string(t->name(i)) + "=" + std::string(t->value(i)) + ";";
  }
  void abort(const error&) override { aborted = true; }
  void consume_request_body(size_t n) override { consumed += n; }
  std::string_view client_address() const noexcept override { return "127.0.0.1"; }

  int status = 0, heads = 0, pieces = 0;
  std::string headers, body, trailers;
  bool head_end_stream = false, ended = false, aborted = false, accept_more = true;
  size_t consumed = 0;
};

http::request_head make_head(std::string method, std::string target) {
  http::request_head h;
  h.method = std::move(method);
  h.target = std::move(target);
  h.headers.add("host", "example.test", http::field_id::host);
  h.headers.add("content-type", "application/json", http::field_id::content_type);
  return h;
}

struct read_result {
  error_code ec;
  std::string data;
  bool done = false;
};

// Reads once from the bridge and runs the io_context until the handler ran (or nothing is due).
read_result read_once(asio::io_context& io, stream_bridge& b) {
  auto r = std::make_shared<read_result>();
  auto buf = std::make_shared<std::string>(256 * 1024, '\0');
  b.async_read_some(asio::buffer(*buf), [r, buf](const error_code& ec, size_t n) {
    r->ec = ec;
    r->data.assign(buf->data(), n);
    r->done = true;
  });
  io.restart();
  io.poll();
  return *r;
}

struct write_result {
  error_code ec;
  size_t n = 0;
  bool done = false;
};

std::shared_ptr<write_result> write(asio::io_context& io, stream_bridge& b, std::string bytes) {
  auto r = std::make_shared<write_result>();
  auto keep = std::make_shared<std::string>(std::move(bytes));
  b.async_write(asio::buffer(*keep), [r, keep](const error_code& ec, size_t n) {
    r->ec = ec;
    r->n = n;
    r->done = true;
  });
  io.restart();
  io.poll();
  return r;
}

TEST(StreamBridge, RequestWithoutBodyBecomesAnHttp11Head) {
  asio::io_context io;
  recording_port port;
  auto head = make_head("GET", "/v1/models?x=1");
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, true);
  auto r = read_once(io, *b);
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.data,
            "GET /v1/models?x=1 HTTP/1.1\r\nhost: example.test\r\ncontent-type: "
            "application/json\r\n\r\n");
  // Nothing more until the answer is over: the session keeps a read open to watch the client.
  auto pending = std::make_shared<read_result>();
  std::string buf(64, '\0');
  b->async_read_some(asio::buffer(buf), [pending](const error_code& ec, size_t) {
    pending->ec = ec;
    pending->done = true;
  });
  io.restart();
  io.poll();
  EXPECT_FALSE(pending->done);
  auto w =
      write(io, *b, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello");
  EXPECT_TRUE(w->done);
  EXPECT_FALSE(w->ec);
  EXPECT_EQ(port.status, 200);
  EXPECT_EQ(port.body, "hello");
  EXPECT_TRUE(port.ended);
  io.restart();
  io.poll();
  ASSERT_TRUE(pending->done);  // the response is over: end of stream for the session
  EXPECT_EQ(pending->ec, asio::error::eof);
}

TEST(StreamBridge, BodyWithoutLengthIsChunkedAndTrailersFollow) {
  asio::io_context io;
  recording_port port;
  auto head = make_head("POST", "/v1/completions");
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, true, head, false);
  EXPECT_STREQ(b->scheme(), "https");
  b->on_body("{\"a\":");
  b->on_body("1}");
  http::header_list t;
  t.add("x-checksum", "abc");
  b->on_body_end(&t);
  auto r = read_once(io, *b);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.data,
            "POST /v1/completions HTTP/1.1\r\nhost: example.test\r\ncontent-type: "
            "application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n"
            "0\r\nx-checksum: abc\r\n\r\n");
  EXPECT_EQ(port.consumed, 7u);
}

TEST(StreamBridge, BodyWithContentLengthPassesThroughRaw) {
  asio::io_context io;
  recording_port port;
  auto head = make_head("POST", "/p");
  head.headers.add("content-length", "4", http::field_id::content_length);
  head.content_length = 4;
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, false);
  b->on_body("ab");
  b->on_body("cd");
  b->on_body_end(nullptr);
  auto r = read_once(io, *b);
  EXPECT_NE(r.data.find("content-length: 4\r\n\r\nabcd"), std::string::npos) << r.data;
  EXPECT_EQ(r.data.find("chunked"), std::string::npos);
}

TEST(StreamBridge, ClientWindowStaysShutWhileTheSessionLagsBehind) {
  asio::io_context io;
  recording_port port;
  auto head = make_head("POST", "/p");
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, false);
  const std::string piece(16 * 1024, 'x');
  for (int i = 0; i < 10; ++i) b->on_body(piece);  // 160 KiB, nobody reading
  EXPECT_LT(port.consumed, 10 * piece.size());
  EXPECT_LE(port.consumed, request_buffer);
  // The session reads everything: the rest of the window is granted.
  for (int i = 0; i < 10 && port.consumed < 10 * piece.size(); ++i) read_once(io, *b);
  EXPECT_EQ(port.consumed, 10 * piece.size());
}

TEST(StreamBridge, ChunkedResponseStreamsPiecesAndCarriesTrailers) {
  asio::io_context io;
  recording_port port;
  auto head = make_head("GET", "/events");
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, true);
  read_once(io, *b);
  write(io, *b,
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: text/event-stream\r\n\r\n");
  EXPECT_EQ(port.heads, 1);  // the interim 100 is not passed on
  EXPECT_EQ(port.status, 200);
  EXPECT_FALSE(port.head_end_stream);
  write(io, *b, "6\r\ndata: \r\n");
  EXPECT_EQ(port.body, "data: ");
  write(io, *b, "3\r\none\r\n0\r\ngrpc-status: 0\r\nset-cookie: a=b\r\n\r\n");
  EXPECT_EQ(port.body, "data: one");
  EXPECT_TRUE(port.ended);
  EXPECT_EQ(port.trailers, "grpc-status=0;");  // set-cookie may not be a trailer
}

TEST(StreamBridge, HeadAnswerHasNoBody) {
  asio::io_context io;
  recording_port port;
  auto head = make_head("HEAD", "/x");
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, true);
  read_once(io, *b);
  write(io, *b, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
  EXPECT_EQ(port.heads, 1);
  EXPECT_TRUE(port.head_end_stream);
  EXPECT_TRUE(b->response_done());
}

TEST(StreamBridge, WriteWaitsForRoomInTheConnection) {
  asio::io_context io;
  recording_port port;
  port.accept_more = false;
  auto head = make_head("GET", "/big");
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, true);
  read_once(io, *b);
  auto w = write(io, *b, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
  EXPECT_EQ(port.body, "01234");
  EXPECT_FALSE(w->done);  // the driver said stop: the session's write is held back
  port.accept_more = true;
  b->on_writable();
  io.restart();
  io.poll();
  EXPECT_TRUE(w->done);
  EXPECT_FALSE(w->ec);
}

TEST(StreamBridge, ClientGoneFailsPendingOperations) {
  asio::io_context io;
  recording_port port;
  auto head = make_head("GET", "/slow");
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, true);
  read_once(io, *b);
  auto pending = std::make_shared<read_result>();
  std::string buf(64, '\0');
  b->async_read_some(asio::buffer(buf), [pending](const error_code& ec, size_t) {
    pending->ec = ec;
    pending->done = true;
  });
  b->on_client_gone();
  io.restart();
  io.poll();
  ASSERT_TRUE(pending->done);
  EXPECT_TRUE(pending->ec);
  // The session's answer after that goes nowhere, and the port is not touched.
  auto w = write(io, *b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_TRUE(w->ec);
  EXPECT_EQ(port.heads, 0);
}

TEST(StreamBridge, SessionClosingMidAnswerResetsTheStream) {
  asio::io_context io;
  recording_port port;
  auto head = make_head("GET", "/cut");
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, true);
  read_once(io, *b);
  write(io, *b, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012");
  EXPECT_FALSE(port.ended);
  b->close();
  EXPECT_TRUE(port.aborted);  // never a clean end for a truncated body
  EXPECT_FALSE(port.ended);
}

TEST(StreamBridge, SessionClosingAfterTheAnswerDoesNotReset) {
  asio::io_context io;
  recording_port port;
  auto head = make_head("GET", "/ok");
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, true);
  read_once(io, *b);
  write(io, *b, "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_TRUE(port.head_end_stream);
  b->close();
  EXPECT_FALSE(port.aborted);
}

}  // namespace
}  // namespace spillway::http2

namespace spillway::http2 {
namespace {

// With the connection's pool, a bridge whose session is back waiting takes the next stream:
// the session's pending read gets the new request, and the first stream is no longer touched.
TEST(StreamBridgeReuse, AnsweredBridgeTakesTheNextStream) {
  asio::io_context io;
  auto pool = std::make_shared<head_pool>();
  recording_port first, second;
  auto b = std::make_shared<stream_bridge>(io.get_executor(), first, false,
                                           make_head("GET", "/one"), true, pool);
  auto r = read_once(io, *b);
  ASSERT_NE(r.data.find("GET /one HTTP/1.1\r\n"), std::string::npos);
  // The session keeps a read open while it answers.
  auto pending = std::make_shared<read_result>();
  std::string buf(4096, '\0');
  b->async_read_some(asio::buffer(buf), [pending, &buf](const error_code& ec, size_t n) {
    pending->ec = ec;
    pending->data.assign(buf.data(), n);
    pending->done = true;
  });
  const auto gen = b->generation();
  write(io, *b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_TRUE(first.ended);
  EXPECT_FALSE(pending->done);  // no end of stream: the session may go on
  b->idle();                    // the session is back in read_head
  ASSERT_EQ(pool->idle.size(), 1u);
  auto again = pool->idle.back();
  pool->idle.pop_back();
  again->attach(second, make_head("POST", "/two"), true);
  EXPECT_NE(b->generation(), gen);
  io.restart();
  io.poll();
  ASSERT_TRUE(pending->done);
  EXPECT_FALSE(pending->ec);
  EXPECT_NE(pending->data.find("POST /two HTTP/1.1\r\n"), std::string::npos) << pending->data;
  write(io, *b, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(second.status, 201);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.heads, 1);
}

TEST(StreamBridgeReuse, UnreadRequestBytesEndTheSession) {
  asio::io_context io;
  auto pool = std::make_shared<head_pool>();
  recording_port port;
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false,
                                           make_head("POST", "/early"), false, pool);
  read_once(io, *b);
  b->on_body("part of a body the session never reads");
  // The session answers before reading the body (say a 404): it may not take another stream.
  write(io, *b, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  b->idle();
  EXPECT_TRUE(pool->idle.empty());
}

TEST(StreamBridgeReuse, RetiredBridgeEndsItsSessionsWait) {
  asio::io_context io;
  auto pool = std::make_shared<head_pool>();
  recording_port port;
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, make_head("GET", "/x"),
                                           true, pool);
  read_once(io, *b);
  write(io, *b, "HTTP/1.1 204 No Content\r\n\r\n");
  b->idle();
  ASSERT_EQ(pool->idle.size(), 1u);
  auto pending = std::make_shared<read_result>();
  std::string buf(64, '\0');
  b->async_read_some(asio::buffer(buf), [pending](const error_code& ec, size_t) {
    pending->ec = ec;
    pending->done = true;
  });
  io.restart();
  io.poll();
  EXPECT_FALSE(pending->done);  // waiting for a stream
  b->retire();                  // the connection is over
  io.restart();
  io.poll();
  ASSERT_TRUE(pending->done);
  EXPECT_EQ(pending->ec, asio::error::eof);
  pool->idle.clear();
}

TEST(StreamBridgeHeads, RequestWithoutBodyGoesAsAValueAndTheAnswerComesBackAsOne) {
  asio::io_context io;
  auto pool = std::make_shared<head_pool>();
  recording_port port;
  auto head = make_head("GET", "/v1/models?x=1");
  head.headers.add("expect", " 100-continue ", http::field_id::expect);
  auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, true, pool, true);
  auto r = read_once(io, *b);  // announced by a read with no bytes
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.data, "");
  http::request_head got;
  ASSERT_TRUE(b->take_head(got));
  EXPECT_FALSE(b->take_head(got));  // once
  EXPECT_EQ(got.method, "GET");
  EXPECT_EQ(got.target, "/v1/models?x=1");
  EXPECT_EQ(got.headers.find(http::field_id::host), "example.test");
  EXPECT_TRUE(got.keep_alive);
  EXPECT_TRUE(got.expect_continue);
  EXPECT_FALSE(got.has_body());

  http::response_head res;
  res.status = 201;
  res.headers.add("x-kept", "1");
  res.headers.add("content-length", "5", http::field_id::content_length);
  res.content_length = 5;
  EXPECT_FALSE(b->write_head(res, 0));  // no body: written as text
  ASSERT_TRUE(b->write_head(res, 5));
  EXPECT_FALSE(b->write_head(res, 5));  // one head per stream
  EXPECT_EQ(port.status, 201);
  EXPECT_EQ(port.headers, "x-kept=1;content-length=5;");
  EXPECT_FALSE(port.head_end_stream);
  auto w = write(io, *b, "hel");
  EXPECT_TRUE(w->done);
  EXPECT_FALSE(port.ended);
  write(io, *b, "lo");
  EXPECT_EQ(port.body, "hello");
  EXPECT_TRUE(port.ended);
  b->idle();  // nothing left unread: the session may take the next stream
  EXPECT_EQ(pool->idle.size(), 1u);
  pool->idle.clear();
}

TEST(StreamBridgeHeads, HeadsAnHttp11ParserWouldRefuseGoAsText) {
  const auto text_of = [](http::request_head head, bool end_stream) {
    asio::io_context io;
    recording_port port;
    auto b = std::make_shared<stream_bridge>(io.get_executor(), port, false, head, end_stream,
                                             nullptr, true);
    auto r = read_once(io, *b);
    http::request_head got;
    EXPECT_FALSE(b->take_head(got));
    return r.data;
  };
  EXPECT_EQ(text_of(make_head("GET", "/a b"), true).rfind("GET /a b HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(text_of(make_head("G(T", "/"), true), "");
  EXPECT_NE(text_of(make_head("GET", "/\x7f"), true), "");
  auto two_hosts = make_head("GET", "/");
  two_hosts.headers.add("host", "b.test", http::field_id::host);
  EXPECT_NE(text_of(two_hosts, true), "");
  auto no_host = make_head("GET", "/");
  no_host.headers.clear();
  EXPECT_NE(text_of(no_host, true), "");
  auto length = make_head("GET", "/");
  length.headers.add("content-length", "3", http::field_id::content_length);
  length.content_length = 3;
  EXPECT_NE(text_of(length, true), "");
  EXPECT_NE(text_of(make_head("POST", "/"), false), "");  // a body follows
}

}  // namespace
}  // namespace spillway::http2
