// The server side of one downstream HTTP/2 connection (RFC 9113), without I/O: bytes read from
// the socket go into receive(), frames to write come out of produce(). Built on nghttp2's
// session API. Requests reach a handler as protocol-neutral http::request_head values, so the
// exchange code behind it is the same as for HTTP/1.1.
//
// Translation safety comes from nghttp2's HTTP messaging checks (pseudo-headers,
// connection-specific fields, content-length against DATA, field syntax): a stream that fails
// them is reset and never reaches the handler. On top of them this class bounds what one
// connection may cost (decoded header bytes, resets, SETTINGS / PING / empty DATA /
// PRIORITY / WINDOW_UPDATE / extension frame floods, CONTINUATION runs) and ends an abusive
// connection with GOAWAY ENHANCE_YOUR_CALM.
//
// Flow control: request bodies open the client's window only as the handler consume()s them,
// so a slow upstream holds back the client instead of growing a buffer; response bodies are
// buffered per stream up to `stream_buffer` and send_body() says when to stop reading upstream.
//
// Threading: one thread (the connection's worker). Handler calls happen inside receive() and
// produce(); the handler may call respond() / send_body() / reset() from them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "proxy/http/message.hpp"

namespace spillway::http2 {

using steady = std::chrono::steady_clock;

struct limits {
  uint32_t max_concurrent_streams = 128;
  uint32_t stream_window = 64 * 1024;          // receive window per stream (request bodies)
  uint32_t connection_window = 1024 * 1024;    // receive window of the connection
  uint32_t max_header_list_bytes = 64 * 1024;  // decoded, RFC 9113 §6.5.2 accounting
  size_t stream_buffer = 64 * 1024;            // response bytes buffered per stream
  size_t max_continuations = 8;                // CONTINUATION frames per header block
  // Token buckets per connection: `burst` events at once, refilled at `per_second`.
  uint32_t reset_burst = 200, resets_per_second = 50;          // client RST_STREAM
  uint32_t settings_burst = 32, settings_per_second = 10;      // SETTINGS frames
  uint32_t ping_burst = 32, pings_per_second = 10;             // PING frames
  uint32_t empty_data_burst = 64, empty_data_per_second = 16;  // DATA without payload or END_STREAM
  uint32_t unknown_frame_burst = 64, unknown_frames_per_second = 16;  // extension frame types
  // Budgets that grow with the work the connection does (as Envoy's): PRIORITY and
  // PRIORITY_UPDATE frames up to this many per stream opened (and as many before the first);
  uint32_t priority_per_stream = 100;
  // WINDOW_UPDATE frames up to 1 + 2 × (streams opened + this × DATA frames sent).
  uint32_t window_updates_per_data_frame = 10;
};

/// Why a connection was ended or a stream refused (spillway_http2_abuse_total{reason}).
enum class abuse : uint8_t {
  rapid_reset,
  continuation_flood,
  header_list_too_large,
  settings_flood,
  ping_flood,
  empty_data_flood,
  priority_flood,
  window_update_flood,
  unknown_frame_flood,
  protocol_error,
  count
};
const char* to_string(abuse a) noexcept;

class server_connection {
 public:
  class handler {
   public:
    virtual ~handler() = default;
    /// A complete request head. `end_stream`: the request has no body.
    virtual void on_request(int32_t stream, http::request_head& head, bool end_stream) = 0;
    /// Request body bytes; call consume(stream, n) once they are forwarded.
    virtual void on_body(int32_t stream, std::string_view data) = 0;
    /// End of the request body; `trailers` when the client sent some.
    virtual void on_body_end(int32_t stream, const http::header_list* trailers) = 0;
    /// The stream is gone: answered, reset by the client (`h2_error` nonzero) or by us.
    virtual void on_stream_closed(int32_t stream, uint32_t h2_error) = 0;
    /// Buffered response bytes fell below half of `stream_buffer` after send_body() said stop.
    virtual void on_writable(int32_t stream) = 0;
  };

  /// `clock` is read for the flood buckets (tests pass a fake one).
  server_connection(handler& h, const limits& l, steady::time_point (*clock)() = &steady::now);
  ~server_connection();
  server_connection(const server_connection&) = delete;
  server_connection& operator=(const server_connection&) = delete;

  /// Queues our SETTINGS. Call once, before the first receive().
  void start();

  /// Feeds bytes read from the client. An error means the connection is finished: write what
  /// produce() still gives (GOAWAY), then close.
  error receive(std::span<const uint8_t> data);

  /// Appends the frames ready to be written to `out`; false when there were none.
  bool produce(std::string& out);

  /// True when nothing more will be read or written (GOAWAY exchanged, streams done).
  bool finished() const noexcept;

  /// Response head. `end_stream`: no body follows. Returns false if the stream is gone.
  bool respond(int32_t stream, const http::response_head& head, bool end_stream);
  /// Appends response body bytes. Returns false when the stream's buffer is full: stop reading
  /// upstream until on_writable().
  bool send_body(int32_t stream, std::string_view data);
  /// Ends the response body, with trailers if any.
  void end_body(int32_t stream, const http::header_list* trailers = nullptr);
  /// Request body bytes the handler has forwarded: reopens the client's window.
  void consume(int32_t stream, size_t n);
  /// Resets one stream (e.g. CANCEL when the upstream failed mid-body).
  void reset(int32_t stream, uint32_t h2_error);
  /// Graceful shutdown: GOAWAY with the last stream id; streams in flight finish.
  void shutdown();
  /// The first step of a drain (RFC 9113 §6.8): GOAWAY with the largest stream id, so streams
  /// the client is opening meanwhile are still served, and a PING; its acknowledgement (one
  /// round trip later) sends the final GOAWAY, as shutdown() does.
  void shutdown_notice();
  /// True from shutdown_notice() until the final GOAWAY is submitted.
  bool notice_pending() const noexcept;

  /// Response bytes buffered on `stream` and not yet framed.
  size_t buffered(int32_t stream) const noexcept;
  /// True while some stream has response bytes waiting on a zero flow-control window.
  bool blocked_on_window() const noexcept;
  size_t open_streams() const noexcept;
  /// Frees the buffers kept from closed streams for reuse (the driver calls it when idle).
  void release_spare() noexcept;

  /// Abuse events seen on this connection, by reason.
  const std::array<uint32_t, static_cast<size_t>(abuse::count)>& abuse_counts() const noexcept {
    return abuse_;
  }
  /// The reason the connection was ended for abuse, if it was.
  std::optional<abuse> ended_for() const noexcept { return ended_for_; }

  struct impl;  // nghttp2 callbacks reach the state through it

 private:
  std::unique_ptr<impl> impl_;
  std::array<uint32_t, static_cast<size_t>(abuse::count)> abuse_{};
  std::optional<abuse> ended_for_;
};

/// True when `bytes` start with the HTTP/2 client connection preface (or a prefix of it, when
/// fewer bytes are available): a plaintext listener with `http2: true` uses it to tell h2c with
/// prior knowledge from HTTP/1.1.
bool starts_with_preface(std::string_view bytes) noexcept;

}  // namespace spillway::http2
