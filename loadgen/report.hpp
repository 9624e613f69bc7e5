// Renders a finished run: the terminal table, the --json summary (vLLM benchmark_serving key
// names such as mean_ttft_ms, p99_itl_ms, request_goodput, plus ours), the per-second CSV, the
// self-contained --html report, and the compare report (added latency and SSE chunk ratio).
// Pure functions of the results; any thread.
#pragma once

#include <boost/json/object.hpp>

#include <string>

#include "loadgen/options.hpp"
#include "loadgen/runner.hpp"

namespace spillway::loadgen {

struct summary {
  double duration_s = 0;  // measured window: first measured send to last measured completion
  double request_throughput = 0;
  double request_goodput = 0;
  double output_throughput = 0;
  double total_token_throughput = 0;
  bool unreachable = false;  // every measured request failed to connect
};

summary summarize(const options& o, const run_result& r);

std::string format_table(const options& o, const run_result& r);
boost::json::object to_json(const options& o, const run_result& r);
std::string to_csv_series(const run_result& r);
std::string render_html(const options& o, const run_result& r, const run_result* direct);

/// `direct` and `proxied` ran the same schedule; added latency = proxied − direct per percentile.
std::string format_compare(const options& o, const run_result& direct, const run_result& proxied);
boost::json::object compare_json(const options& o, const run_result& direct,
                                 const run_result& proxied);

/// Per-request mean body chunks of `proxied` over those of `direct` (1 = event by event).
double chunk_ratio(const run_result& direct, const run_result& proxied);

/// One-line description of the load model ("open loop, poisson 200 req/s, ...").
std::string describe_load(const options& o);

}  // namespace spillway::loadgen
