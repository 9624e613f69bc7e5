// Aggregates finished requests: HDR-style histograms of every latency the report shows, counts
// by status and error class, token totals, goodput under the SLO, which upstream served and what
// the cache said, a per-second time series, and optional per-request JSONL lines.
// Definitions follow vLLM's benchmark_serving: TTFT = first text chunk − send, ITL = gaps between
// text chunks, TPOT = (e2e − TTFT) / (output tokens − 1), goodput = requests/s meeting every SLO.
// "Send" is the scheduled send time (no coordinated omission); `service` uses the actual send.
// Threading: one collector per driver thread, merged after the run; the JSONL sink is shared
// and locked.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "loadgen/histogram.hpp"
#include "loadgen/options.hpp"
#include "loadgen/request.hpp"

namespace spillway::loadgen {

/// Shared per-request JSONL output.
class jsonl_sink {
 public:
  explicit jsonl_sink(std::FILE* f) : file_(f) {}
  ~jsonl_sink();
  jsonl_sink(const jsonl_sink&) = delete;
  jsonl_sink& operator=(const jsonl_sink&) = delete;
  void write(const std::string& lines);

 private:
  std::mutex mutex_;
  std::FILE* file_;
};

struct second_stats {
  uint64_t scheduled = 0;  // arrivals scheduled in this second
  uint64_t sent = 0;
  uint64_t completed = 0;  // finished OK
  uint64_t errors = 0;
  uint64_t late = 0;
  uint64_t output_tokens = 0;
  uint64_t in_flight = 0;  // sampled at the end of the second
  histogram latency{5, uint64_t{1} << 38};
};

struct connection_stats {
  uint64_t connects = 0;  // successful connects (including TLS)
  uint64_t connect_errors = 0;
  uint64_t reconnects = 0;     // connects after a connection's first
  uint64_t server_closed = 0;  // connections the server closed (EOF, Connection: close, GOAWAY)
  uint64_t stale_retries = 0;  // requests resent after a stale keep-alive connection
  void merge(const connection_stats& o);
};

class collector {
 public:
  explicit collector(const options& o, jsonl_sink* jsonl = nullptr);

  void on_scheduled(int64_t scheduled);
  void on_sent(const request_ctx& r);
  void on_done(const request_ctx& r);
  /// Requests still running when a closed-loop run ended; not counted anywhere else.
  void on_unfinished(uint64_t n) { unfinished_ += n; }
  void on_waited() { ++waited_; }
  void sample_in_flight(int64_t now, uint64_t in_flight);
  void merge(const collector& o);
  void flush_jsonl();

  /// Counts.
  uint64_t sent = 0;             // measured requests sent
  uint64_t warmup_requests = 0;  // finished during warm-up, excluded
  uint64_t completed = 0;        // measured requests finished OK
  uint64_t failed = 0;           // measured requests finished with an error (cancelled excluded)
  uint64_t cancelled = 0;
  uint64_t late_sends = 0;
  uint64_t good = 0;  // met every SLO
  uint64_t output_tokens = 0;
  uint64_t input_tokens = 0;
  uint64_t bytes = 0;
  uint64_t body_chunks = 0;  // over OK streamed requests
  uint64_t sse_events = 0;
  uint64_t usage_reported = 0;  // OK requests whose answer carried usage.completion_tokens
  uint64_t errors[static_cast<size_t>(error_class::count_)] = {};
  std::map<int, uint64_t> status_counts;      // every response status, OK or not
  std::map<int, std::string> error_examples;  // first body seen for each status >= 400
  std::map<std::string, uint64_t> cache_status;
  std::map<std::string, uint64_t> engines;
  std::unordered_map<uint32_t, std::map<std::string, uint64_t>> session_engines;
  connection_stats conn;

  histogram latency;   // done − scheduled (OK requests); e2e in OpenAI mode
  histogram service;   // done − actual send
  histogram send_lag;  // actual send − scheduled (all measured sends)
  histogram ttfb;      // first response byte − scheduled
  histogram ttft;      // first text chunk − scheduled
  histogram itl;
  histogram tpot;

  int64_t first_scheduled = -1;  // earliest measured scheduled time
  int64_t last_done = -1;        // latest measured completion
  uint64_t waited() const { return waited_; }
  uint64_t unfinished() const { return unfinished_; }
  const std::vector<second_stats>& series() const { return series_; }

  /// Fraction of session requests that reached the upstream their session used most (0..1);
  /// -1 without sessions or engine names.
  double session_stickiness() const;

 private:
  second_stats& second(int64_t t);
  void write_jsonl(const request_ctx& r);

  const options& opts_;
  jsonl_sink* jsonl_;
  std::string jsonl_buf_;
  uint64_t waited_ = 0;
  uint64_t unfinished_ = 0;
  std::vector<second_stats> series_;
};

}  // namespace spillway::loadgen
