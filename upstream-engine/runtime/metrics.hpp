// Engine counters and gauges, read by GET /metrics. Written by the scheduler thread and the HTTP
// threads, read by any thread: everything is a relaxed atomic (values for monitoring, not for
// synchronisation). Names follow vLLM (SPEC §3); rendering lives in api/metrics_text.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace spillway::engine::runtime {

/// Prometheus-style cumulative histogram with fixed bucket bounds (seconds).
class histogram {
 public:
  static constexpr std::array<double, 16> bounds = {
      0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0};
  void observe(double seconds) noexcept;
  /// Observations <= bounds[i] (cumulative); index bounds.size() is +Inf.
  uint64_t cumulative(size_t i) const noexcept;
  uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, bounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

struct engine_metrics {
  // gauges
  std::atomic<int64_t> waiting{0};
  std::atomic<int64_t> running{0};
  std::atomic<int64_t> kv_blocks_used{0};
  std::atomic<int64_t> kv_blocks_total{0};
  std::atomic<int64_t> kv_blocks_cached{0};
  // counters
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> generation_tokens{0};
  std::atomic<uint64_t> prefix_queries{0};  // prompt tokens looked up in the prefix cache
  std::atomic<uint64_t> prefix_hits{0};     // of which found cached
  std::atomic<uint64_t> preemptions{0};
  std::atomic<uint64_t> finished_stop{0};
  std::atomic<uint64_t> finished_length{0};
  std::atomic<uint64_t> finished_abort{0};
  std::atomic<uint64_t> finished_error{0};
  std::atomic<uint64_t> rejected_queue_full{0};
  std::atomic<uint64_t> rejected_loading{0};
  std::atomic<uint64_t> faults_injected{0};
  std::atomic<uint64_t> steps{0};
  std::atomic<uint64_t> step_tokens{0};
  histogram ttft;
  histogram e2e;
  histogram queue_time;
};

}  // namespace spillway::engine::runtime
