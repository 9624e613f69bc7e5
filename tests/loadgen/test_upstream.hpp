// Scripted upstream for the load generator's tests and benchmarks: HTTP/1.1 keep-alive and h2c
// (prior knowledge) on one port, a fixed delay before the response head, OpenAI-style answers
// under /v1/ (server-sent events with a set number of tokens and gap, ending in usage and
// "data: [DONE]", or one JSON answer), a stall of the Nth request, a stream cut after N tokens,
// Cache-Status and X-Engine-Name headers, and counts of what it received.
// Optionally over TLS (ALPN h2 or http/1.1).
// Per request, the query string overrides: delay_ms, status, tokens, itl_ms, cut_after, close=1.
// Runs its own io_context on one thread; counters are safe to read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace spillway::loadgen::test {

struct upstream_config {
  std::string name = "test-upstream";  // X-Engine-Name
  int delay_ms = 0;                    // before the response head
  int itl_ms = 0;                      // between streamed tokens
  int tokens = 0;                      // streamed tokens; 0 = the request's max_tokens, else 8
  int status = 200;
  std::string cache_status;  // Cache-Status value; empty: no header
  uint64_t stall_after = 0;  // the Nth request (1-based) waits stall_ms more
  int stall_ms = 0;
  int cut_after = -1;       // streams: drop the connection after N tokens
  int idle_timeout_ms = 0;  // HTTP/1.1: close connections idle this long (0: never)
  std::string session_header = "x-session-id";
  std::string listen = "127.0.0.1:0";
  std::string tls_cert;  // PEM files: when set, TLS with ALPN h2 / http/1.1
  std::string tls_key;
};

class upstream {
 public:
  explicit upstream(upstream_config cfg);
  ~upstream();
  upstream(const upstream&) = delete;
  upstream& operator=(const upstream&) = delete;

  /// Binds and starts serving on a background thread; returns the port (0 on failure).
  uint16_t start();
  void stop();
  uint16_t port() const { return port_; }

  uint64_t requests() const { return requests_.load(); }
  uint64_t h2_requests() const { return h2_requests_.load(); }
  uint64_t connections() const { return connections_.load(); }
  /// Requests that carried the session header, and how many distinct values it had.
  uint64_t session_requests() const { return session_requests_.load(); }
  size_t distinct_sessions() const;

  struct impl;

 private:
  upstream_config cfg_;
  std::unique_ptr<impl> impl_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> h2_requests_{0};
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> session_requests_{0};
  mutable std::mutex sessions_mutex_;
  std::set<std::string> sessions_;

  friend struct impl;
};

}  // namespace spillway::loadgen::test
