// One request's life in the load generator: what to send, when it was scheduled and sent, and
// everything measured on the way back. Times are nanoseconds since the run's start (t0);
// -1 means "did not happen". Objects are pooled and reused by a driver; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/sse_parser.hpp"

namespace spillway::loadgen {

/// Why a request failed. `http_status` failures also keep their status code.
enum class error_class : uint8_t {
  none,
  connect,       // TCP connect refused or failed
  tls,           // TLS handshake failed
  timeout,       // no complete answer within --timeout of the scheduled time
  reset,         // connection closed or reset before the response was complete
  http_status,   // response status >= 400
  stream_cut,    // SSE stream ended without "data: [DONE]"
  bad_response,  // unparsable HTTP, or an error object inside the stream
  cancelled,     // cancelled by the client on purpose (--cancel-rate)
  count_
};

std::string_view to_string(error_class c);

struct request_ctx {
  // What to send.
  uint64_t index = 0;
  std::string_view wire;   // HTTP/1.1 request bytes (head and body)
  std::string_view body;   // body alone, for HTTP/2
  std::string owned_wire;  // storage behind `wire` when built per request
  std::string session;     // session id header value, empty when none
  uint32_t session_index = UINT32_MAX;
  bool head_request = false;

  // Timeline (ns since t0).
  int64_t scheduled = -1;
  int64_t sent = -1;
  int64_t first_byte = -1;
  int64_t first_token = -1;
  int64_t last_token = -1;
  int64_t done = -1;
  int64_t cancel_delay = -1;  // cancel this long after sending, -1 if never
  int64_t cancel_at = -1;     // client cancellation time, -1 if not cancelled
  bool measured = true;       // false during warm-up
  bool retried = false;       // resent once after a stale keep-alive connection

  // Response.
  int status = 0;
  error_class error = error_class::none;
  uint64_t bytes = 0;        // body bytes
  uint32_t body_chunks = 0;  // network reads (HTTP/1.1) or DATA frames (HTTP/2) with body bytes
  uint32_t tokens = 0;       // streamed chunks that carried text
  int64_t usage_completion = -1;
  int64_t usage_prompt = -1;
  bool event_stream = false;
  bool saw_done = false;
  std::string cache_status;
  std::string engine;
  std::string body_text;     // non-streamed OpenAI answers, kept for `usage`
  std::vector<int64_t> itl;  // gaps between token chunks (ns)
  sse_parser sse;

  // Driver bookkeeping.
  request_ctx* prev = nullptr;
  request_ctx* next = nullptr;
  void* conn = nullptr;    // connection carrying it, null while pending
  int32_t stream_id = -1;  // HTTP/2 stream
  uint32_t slot = 0;       // position in the connection's stream table
  size_t body_offset = 0;  // HTTP/2 body bytes handed to nghttp2 so far
  uint32_t read_seq = 0;   // last network read that carried body bytes

  /// Clears the response part for reuse (keeps string capacity).
  void reset_response();
  bool ok() const noexcept { return error == error_class::none; }
};

/// Intrusive FIFO of request contexts (pending queue, in-flight list).
class request_list {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  size_t size() const noexcept { return size_; }
  request_ctx* front() const noexcept { return head_; }
  void push_back(request_ctx* r) noexcept;
  void remove(request_ctx* r) noexcept;
  request_ctx* pop_front() noexcept;

 private:
  request_ctx* head_ = nullptr;
  request_ctx* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace spillway::loadgen
