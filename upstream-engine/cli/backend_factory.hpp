// Picks the device and sizes the paged KV cache, then builds the backend. Startup code: errors
// come back as messages.
#pragma once

#include <memory>
#include <string>

#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/runtime/backend.hpp"

namespace spillway::engine::cli {

struct backend_options {
  std::string device = "auto";  // auto | cpu | cuda
  int threads = 0;              // CPU threads; 0 = hardware concurrency
  int block_size = 16;
  int kv_blocks = 0;  // 0 = enough for max_batch full contexts, within kv_cache_mib
  int kv_cache_mib = 1024;
  int max_batch = 32;
  bool cuda_graphs = true;  // CUDA graphs for decode steps (CUDA backend only)
};

/// Number of CUDA devices usable here (0 in a CPU-only build or without a driver).
int cuda_device_count();

/// "cpu" or "cuda" for a requested device; empty with `error` set when it cannot be had.
std::string resolve_device(const std::string& requested, std::string& error);

/// KV-cache geometry for a model: never less than one full context plus a block.
runtime::kv_geometry plan_geometry(const model::model_config& c, const backend_options& o);

std::unique_ptr<runtime::backend> make_backend(const model::checkpoint& ck,
                                               const backend_options& o, std::string& error);

}  // namespace spillway::engine::cli
