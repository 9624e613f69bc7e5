// Answers the streams of one downstream HTTP/2 connection with the same HTTP/1.1 session code
// that serves HTTP/1.1 clients, so routing, balancing, resilience, affinity, policies and the
// cache behave identically whatever protocol the client speaks.
//
// Each stream is served through a stream_bridge: to an http1::session it is a client_stream,
// to the connection driver (through a per-stream handle) the stream's http::exchange. Once a
// stream is answered and the session is back waiting for a request (client_stream::idle()),
// the bridge and its session wait in the connection's pool and take the next stream, as a
// keep-alive HTTP/1.1 connection takes its next request: no session is built per stream. A
// session that closes, or a stream that left request bytes unread, ends that pairing.
//
// Request: the head (already validated by nghttp2: pseudo-headers, connection-specific fields,
// field syntax) of a stream without a body goes to the session as a value (take_head()) when
// the HTTP/1.1 request parser would take it as it stands (token method, target of visible
// characters, one Host, no Transfer-Encoding, no Content-Length but 0); any other is written
// out as an HTTP/1.1 head, the body following as it arrives (chunked when the client gave no
// content-length), and the session's own request parser, limits and smuggling checks run on it
// as they do on a connection.
//
// Response: a head with a Content-Length body may come from the session as a value
// (write_head()), its body bytes after it. Otherwise the session writes HTTP/1.1, its own
// serialisation of an already validated message: the common shape (a clean head with one
// Content-Length, or no body at all) is read by hand and its body passed on as it comes;
// anything else (chunked, read-until-close, an unusual head) goes through the full HTTP/1.1
// response parser.
//
// WebSocket over HTTP/2 (RFC 8441): an extended CONNECT goes to the session as the HTTP/1.1
// upgrade request (GET, Upgrade, Connection, a Sec-WebSocket-Key of its own); the session's 101
// becomes the stream's 200, and from then on the stream's DATA and the session's bytes are the
// tunnel's two directions. A 101 whose Sec-WebSocket-Accept does not match the key becomes 502
// (RFC 6455 §4.1: the client fails the connection); a final answer other than 101 passes as it
// is, except a 2xx (the route did not upgrade), which becomes 501. The stream ends when the
// upstream connection does.
//
// Flow control: a stream's request bytes not yet read by the session are bounded
// (`request_buffer`); beyond it the client's window stays closed. A response write completes
// only once the driver has room for it (send_body() / on_writable()).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <optional>
#include <vector>

#include "proxy/http/exchange.hpp"
#include "proxy/http1/client_stream.hpp"
#include "proxy/http1/parser.hpp"

namespace spillway::server {
class worker;
struct listener_shared;
}  // namespace spillway::server

namespace spillway::http2 {

class stream_bridge;

/// What the streams of one connection share: response heads handed on while several are in
/// flight (a stream's head starts with the field storage an earlier one grew), and the bridges
/// whose sessions wait for the next stream.
struct head_pool {
  std::vector<http::response_head> spare;
  std::vector<std::shared_ptr<stream_bridge>> idle;
};

/// Sessions kept waiting per connection; beyond it a finished session closes.
inline constexpr size_t max_idle_sessions = 32;

class session_bridge_factory final : public http::exchange_factory {
 public:
  session_bridge_factory(server::worker& w, server::listener_shared& l, std::string client_ip,
                         boost::asio::ip::tcp::endpoint local, bool tls)
      : worker_(w), listener_(l), client_ip_(std::move(client_ip)), local_(local), tls_(tls) {}

  std::shared_ptr<http::exchange> open(http::request_head& head, bool end_stream,
                                       http::downstream_port& port) override;
  ~session_bridge_factory() override { heads_->idle.clear(); }

  /// The connection is over: sessions waiting for a stream close.
  void close_idle();

 private:
  server::worker& worker_;
  server::listener_shared& listener_;
  std::string client_ip_;
  boost::asio::ip::tcp::endpoint local_;
  bool tls_;
  std::shared_ptr<head_pool> heads_ = std::make_shared<head_pool>();
};

/// Request bytes a stream may hold for its session before the client's window stays shut.
inline constexpr size_t request_buffer = 64 * 1024;

class stream_bridge final : public http1::client_stream,
                            public std::enable_shared_from_this<stream_bridge> {
 public:
  /// Serves the stream `port` answers for. With `heads`, the bridge (and its session) may go on
  /// to serve later streams of the connection.
  stream_bridge(boost::asio::any_io_executor ex, http::downstream_port& port, bool tls,
                const http::request_head& head, bool end_stream,
                std::shared_ptr<head_pool> heads = nullptr, bool heads_as_values = false);
  ~stream_bridge() override;

  /// Takes the next stream; the bridge must be waiting (taken from head_pool::idle).
  void attach(http::downstream_port& port, const http::request_head& head, bool end_stream);
  /// Stream calls, forwarded by the stream's handle while this bridge serves it.
  void on_body(std::string_view data);
  void on_body_end(const http::header_list* trailers);
  void on_client_gone();
  void on_writable();
  /// Which stream the bridge serves: bumped by attach(), so a handle of an earlier stream
  /// knows it no longer speaks for it.
  uint64_t generation() const noexcept { return generation_; }
  bool closed() const noexcept { return closed_; }
  /// Ends the wait of an idle bridge: its session reads the end of the stream and closes.
  void retire();
  /// From the next stream on, a request head the session's parser would accept as it stands
  /// goes to the session as a value (take_head()) instead of as HTTP/1.1 text.
  void heads_as_values(bool on) noexcept { heads_as_values_ = on; }

  // http1::client_stream (the session's side)
  void async_read_some(boost::asio::mutable_buffer b, io_handler h) override;
  void async_write(boost::asio::const_buffer b, io_handler h) override;
  void shutdown_send() noexcept override {}
  void close() noexcept override;
  void idle() noexcept override;
  const char* scheme() const noexcept override { return tls_ ? "https" : "http"; }
  const char* via_version() const noexcept override { return "2"; }
  bool http2_stream() const noexcept override { return true; }
  bool take_head(http::request_head& into) noexcept override;
  bool write_head(const http::response_head& head, uint64_t body_bytes) noexcept override;

  bool response_done() const noexcept { return response_done_; }

 private:
  enum class head_result { done, need_more, fallback };

  void deliver();  // completes a pending read if there is something to say
  /// Forwards what `data` holds of the response; returns the bytes used (the rest is kept).
  size_t take_response(std::string_view data);
  head_result read_head(std::string_view data, size_t& used);  // the fast path's head
  size_t parse_full(std::string_view data);                    // the HTTP/1.1 parser's path
  void complete_write(const error_code& ec);
  void new_parser();
  void finish_port();  // the answer is over: the port may not be used again
  void start_request(const http::request_head& head, bool end_stream);

  boost::asio::any_io_executor ex_;
  http::downstream_port* port_;  // null once the port may not be used
  bool tls_;
  bool head_request_;

  // the request for the session: a head as a value, or bytes
  bool heads_as_values_ = false;
  bool head_ready_ = false;  // *pending_head_ waits for take_head()
  bool expect_continue_ = false;
  const http::request_head* pending_head_ = nullptr;  // the driver's
  std::string in_;
  size_t in_off_ = 0;
  size_t unconsumed_ = 0;            // request body bytes received but not yet granted back
  http1::body_framer request_body_;  // frames body bytes into in_
  bool request_done_ = false;
  bool tunnel_ = false;       // an extended CONNECT for WebSocket (RFC 8441)
  bool tunnel_open_ = false;  // its upstream answered 101: bytes flow both ways until the end
  std::string ws_key_;        // the Sec-WebSocket-Key sent upstream
  boost::asio::mutable_buffer read_buf_;
  io_handler read_h_;

  // response bytes from the session
  std::string res_in_;
  std::shared_ptr<head_pool> heads_;
  http::response_head res_;
  std::optional<http1::response_parser> parser_;  // set once the fast path gave up
  uint64_t body_left_ = 0;                        // fast path: body bytes still to come
  std::string body_;
  io_handler write_h_;
  size_t write_n_ = 0;
  bool head_sent_ = false;
  bool blocked_ = false;  // the driver's buffer is full: the write completes on on_writable()
  bool response_done_ = false;
  bool client_gone_ = false;
  bool closed_ = false;
  bool reusable_ = false;  // the answered stream left nothing unread: the session may go on
  bool pooled_ = false;    // waiting in head_pool::idle for the next stream
  bool retired_ = false;   // no further stream: reads end the stream
  uint64_t generation_ = 0;
};

}  // namespace spillway::http2
