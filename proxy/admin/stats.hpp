// Request statistics. Each worker owns one worker_stats and is its only writer, so counters
// are plain relaxed load+store (no lock prefix on the hot path); the admin thread sums all
// workers when it renders /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace spillway::admin {

/// Counter written by one thread, read by any.
class counter {
 public:
  void add(uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

/// Latency buckets in seconds, sized for LLM traffic (milliseconds to minutes).
inline constexpr std::array<double, 17> latency_buckets{
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};

class histogram {
 public:
  void observe(double seconds) noexcept;
  uint64_t bucket(size_t i) const noexcept { return buckets_[i].get(); }  // non-cumulative
  uint64_t count() const noexcept { return count_.get(); }
  double sum() const noexcept { return static_cast<double>(sum_us_.get()) / 1e6; }

 private:
  std::array<counter, latency_buckets.size() + 1> buckets_;  // last: +Inf
  counter count_;
  counter sum_us_;
};

constexpr int max_status = 600;

struct route_stats {
  std::array<counter, max_status> by_status;
  histogram duration;
  histogram ttfb;
};

struct endpoint_stats {
  std::array<counter, max_status> by_status;  // 0 = no response (connect failure, reset)
  histogram duration;                         // slot taken to slot released, per try
};

/// One worker's counters by one runtime's route and endpoint indexes (server::runtime::stats).
/// A reload shares the blocks of routes (same name) and endpoints (same cluster and address)
/// that stay, so their counters continue and requests still finishing on the old runtime count.
struct request_stats {
  std::vector<std::shared_ptr<route_stats>> routes;
  std::vector<std::vector<std::shared_ptr<endpoint_stats>>> endpoints;  // [cluster][endpoint]
};

struct worker_stats {
  route_stats unrouted;  // requests answered before a route was chosen (400, 404, ...)
  counter connections_accepted;
  counter connections_refused;  // max_connections
  std::atomic<int64_t> connections_open{0};
  // TLS and HTTP/2 (server/front_door.cpp)
  counter tls_handshakes;
  counter tls_handshake_failures;  // bad handshake, or none within timeouts.header
  counter h2_connections;
  counter h2_streams;
  std::array<counter, 12> h2_abuse;         // by http2::abuse
  std::array<counter, 12> h2_abuse_closed;  // connections ended for that reason
};

}  // namespace spillway::admin
