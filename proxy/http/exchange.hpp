// The seam between a client-side protocol (HTTP/1.1 connection, HTTP/2 stream) and the code
// that answers one request (routing, balancing, resilience, cache, upstream I/O).
//
// A protocol adapter parses a request head, asks an exchange_factory for an exchange, passes
// body bytes and the client's departure to it, and offers a downstream_port through which the
// exchange answers. Both sides run on the same worker thread.
//
// Contract: after on_client_gone(), or once it has finished its answer (end_body(), abort(), or
// send_head() with end_stream), the exchange never calls its port again; the adapter may
// destroy the port then.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/error.hpp"
#include "proxy/http/message.hpp"

namespace spillway::http {

/// The client side, as an exchange sees it.
class downstream_port {
 public:
  virtual ~downstream_port() = default;
  /// The response head; `end_stream`: no body follows.
  virtual void send_head(const response_head& head, bool end_stream) = 0;
  /// Response body bytes, sent as they come (event streams are never held back). Returns false
  /// when the client side has buffered enough: stop reading upstream until exchange::on_writable().
  virtual bool send_body(std::string_view data) = 0;
  /// Ends the response, with trailers if any.
  virtual void end_body(const header_list* trailers) = 0;
  /// Ends the response abnormally after its head was sent (the client sees a reset or a
  /// truncated body, never a clean end).
  virtual void abort(const error& e) = 0;
  /// Request body bytes forwarded upstream: the client may send that many more.
  virtual void consume_request_body(size_t n) = 0;
  /// Client address (for X-Forwarded-For, rate limits, logs).
  virtual std::string_view client_address() const noexcept = 0;
};

/// One request being answered.
class exchange {
 public:
  virtual ~exchange() = default;
  /// Request body bytes, in order. Call port.consume_request_body() once forwarded.
  virtual void on_body(std::string_view data) = 0;
  /// The request body is complete (`trailers` when the client sent some).
  virtual void on_body_end(const header_list* trailers) = 0;
  /// The client reset the stream or closed the connection: cancel upstream work now.
  virtual void on_client_gone() = 0;
  /// The port accepts body bytes again after send_body() returned false.
  virtual void on_writable() = 0;
};

class exchange_factory {
 public:
  virtual ~exchange_factory() = default;
  /// Starts answering `head`. `end_stream`: the request has no body. The port outlives the
  /// exchange's use of it (see the contract above).
  virtual std::shared_ptr<exchange> open(request_head& head, bool end_stream,
                                         downstream_port& port) = 0;
};

}  // namespace spillway::http
