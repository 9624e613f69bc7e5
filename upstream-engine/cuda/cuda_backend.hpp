// CUDA backend: the llama2 forward pass on one GPU. cuBLAS (FP32, no TF32) does the matrix
// products, the residual adds folded in with beta = 1; our kernels (kernels/) do embedding,
// RMSNorm, RoPE, the paged-KV store, attention over the paged cache, SwiGLU and argmax. Weights
// are copied to the device once; the KV cache lives on the device. Every CUDA and cuBLAS call
// is checked and a failure comes back as a message with file and line.
// Decode steps (every token sampled) replay a CUDA graph per batch size (step_graphs.hpp); any
// failure to capture or launch one turns graphs off for the backend, logged once, and the step
// runs without.
// Scheduler thread only (one stream).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/runtime/backend.hpp"

namespace spillway::engine::cuda {

struct cuda_options {
  bool graphs = true;  // CUDA graphs for decode steps (--cuda-graphs)
  int max_batch = 32;  // graphs cover decode steps of 1..min(max_batch, 256) sequences
};

/// What the decode-step graphs did so far.
struct graph_stats {
  bool enabled = false;   // asked for, and no failure yet
  int captured = 0;       // graphs instantiated (one per batch size)
  uint64_t replayed = 0;  // decode steps run as one graph launch
  uint64_t without = 0;   // decode steps run kernel by kernel (first of their size, too big)
  std::string failure;    // what turned graphs off, if anything did
};

/// CUDA devices usable here; 0 without a driver or a device.
int device_count();

/// Whether cuBLAS can be loaded (it is opened at run time, not linked).
bool cublas_loadable(std::string& error);

/// A backend on device 0, or nullptr with `error` set.
std::unique_ptr<runtime::backend> make_cuda_backend(const model::checkpoint& ck,
                                                    runtime::kv_geometry kv, std::string& error,
                                                    const cuda_options& opts = {});

/// The graph counters of a backend made by make_cuda_backend; all zero for any other backend.
/// Same thread as forward().
graph_stats graph_stats_of(const runtime::backend& be);

}  // namespace spillway::engine::cuda
