// Instantiated CUDA graphs of the decode step, one per batch size (CUDA Programming Guide, "CUDA
// Graphs", stream capture; the per-batch-size graphs of vLLM and TensorRT-LLM). A decode step
// launches about a dozen kernels and cuBLAS calls per layer, each a few microseconds of CPU time;
// a graph replays them all with one launch. A graph fixes every kernel argument, pointers and
// grid sizes included, so the caller keeps all buffers it records at fixed addresses and uploads
// each step's inputs into them before the launch.
// Scheduler thread only (the thread that owns the stream).
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <string>
#include <vector>

namespace spillway::engine::cuda {

class step_graphs {
 public:
  /// Room for graphs of 1..max_tokens tokens.
  explicit step_graphs(int max_tokens);
  ~step_graphs();
  step_graphs(const step_graphs&) = delete;
  step_graphs& operator=(const step_graphs&) = delete;

  int max_tokens() const noexcept { return static_cast<int>(execs_.size()) - 1; }
  bool has(int tokens) const noexcept;
  int count() const noexcept { return count_; }

  /// Captures what `record` enqueues on `stream` (which must be idle of other threads' work and
  /// not the legacy default stream) and instantiates it as the graph for `tokens`. Empty on
  /// success; else the failure (record's, or capture's), with the stream out of capture mode
  /// and no graph kept for `tokens`.
  std::string capture(int tokens, cudaStream_t stream, const std::function<std::string()>& record);

  /// Launches the graph for `tokens` on `stream`; has(tokens) must hold.
  std::string launch(int tokens, cudaStream_t stream) const;

 private:
  std::vector<cudaGraphExec_t> execs_;  // by token count; nullptr until captured
  int count_ = 0;
};

}  // namespace spillway::engine::cuda
