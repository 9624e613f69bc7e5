// GET /metrics: the engine's counters in the Prometheus text format (0.0.4), with vLLM's metric
// names and model_name label (SPEC §3) so routers that scrape vLLM read this engine unchanged.
#pragma once

#include <string>

#include "upstream-engine/runtime/metrics.hpp"

namespace spillway::engine::api {

struct metrics_labels {
  std::string model_name;
  std::string engine_name;
  std::string device;
  int block_size = 0;
  int num_blocks = 0;
  int max_batch = 0;
  int max_queue = 0;
};

std::string render_metrics(const runtime::engine_metrics& m, const metrics_labels& labels);

}  // namespace spillway::engine::api
