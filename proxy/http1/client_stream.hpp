// The byte stream an HTTP/1.1 session reads requests from and writes responses to when it is
// not a plain TCP socket: a TLS connection (server/tls_stream.hpp), or HTTP/2 streams seen as
// an HTTP/1.1 connection that carries their requests one after the other
// (http2/session_bridge.hpp).
//
// Semantics follow Asio's stream operations: at most one read and one write outstanding;
// handlers run later on the session's worker thread, never inline; close() makes pending
// operations complete with an error.
#pragma once

#include <boost/asio/buffer.hpp>

#include "common/error.hpp"
#include "proxy/http/message.hpp"
#include "proxy/http1/io_handler.hpp"

namespace spillway::http1 {

class client_stream {
 public:
  using io_handler = http1::io_handler;

  virtual ~client_stream() = default;
  /// Reads at least one byte into `b`, or fails (end of stream: boost::asio::error::eof).
  virtual void async_read_some(boost::asio::mutable_buffer b, io_handler h) = 0;
  /// Writes all of `b`; the buffer stays valid until `h` runs.
  virtual void async_write(boost::asio::const_buffer b, io_handler h) = 0;
  /// The last response has been written: no more will follow.
  virtual void shutdown_send() noexcept = 0;
  /// Ends the stream now (an unfinished response is cut off, never ended cleanly).
  virtual void close() noexcept = 0;
  /// Scheme the client used ("http" or "https"), for X-Forwarded-Proto.
  virtual const char* scheme() const noexcept = 0;
  /// Protocol version for Via ("1.1" or "2").
  virtual const char* via_version() const noexcept = 0;
  /// True for HTTP/2 streams (the connection is counted by its driver, not by the session).
  virtual bool http2_stream() const noexcept = 0;
  /// The session has answered and waits for its next request: an HTTP/2 bridge may now give
  /// it the connection's next stream.
  virtual void idle() noexcept {}

  // Heads as values (HTTP/2 bridges): what would otherwise be written as HTTP/1.1 text only to
  // be parsed again on the other side.

  /// Moves the next request head into `into` when the stream holds one as a value: a request
  /// without a body whose fields already passed every check the HTTP/1.1 request parser makes.
  /// A read that completes with no bytes and no error announces it. False: read bytes as usual.
  virtual bool take_head(http::request_head& into) noexcept {
    (void)into;
    return false;
  }
  /// Takes a response head and `body_bytes` (> 0) of body that async_write() will carry
  /// unframed. The head is what the client should see, but for hop-by-hop fields (RFC 9110
  /// §7.6.1), which the stream drops as HTTP/2 does any connection-specific field. False:
  /// write the head as HTTP/1.1 text.
  virtual bool write_head(const http::response_head& head, uint64_t body_bytes) noexcept {
    (void)head;
    (void)body_bytes;
    return false;
  }
};

}  // namespace spillway::http1
