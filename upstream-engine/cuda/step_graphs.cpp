#include "upstream-engine/cuda/step_graphs.hpp"

#include <algorithm>

#include "upstream-engine/cuda/check.hpp"

namespace spillway::engine::cuda {

step_graphs::step_graphs(int max_tokens)
    : execs_(static_cast<size_t>(std::max(0, max_tokens)) + 1, nullptr) {}

step_graphs::~step_graphs() {
  for (cudaGraphExec_t e : execs_)
    if (e != nullptr) (void)cudaGraphExecDestroy(e);  // nothing to report to at destruction
}

bool step_graphs::has(int tokens) const noexcept {
  return tokens >= 1 && tokens <= max_tokens() && execs_[static_cast<size_t>(tokens)] != nullptr;
}

std::string step_graphs::capture(int tokens, cudaStream_t stream,
                                 const std::function<std::string()>& record) {
  if (tokens < 1 || tokens > max_tokens()) return "no room for a graph of this batch size";
  if (has(tokens)) return {};
  // Thread-local mode: only this thread's calls that are unsafe during capture fail it.
  SPILLWAY_CUDA_TRY(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  const std::string recorded = record();
  cudaGraph_t graph = nullptr;
  // Ends the capture in every case, also when record() failed half-way.
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  if (!recorded.empty() || ended != cudaSuccess) {
    if (graph != nullptr) (void)cudaGraphDestroy(graph);  // the failure below is what matters
    (void)cudaGetLastError();  // a failed capture leaves no error for the next call to find
    return !recorded.empty()
               ? recorded
               : cuda_failure(ended, "cudaStreamEndCapture(stream, &graph)", __FILE__, __LINE__);
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  // The executable graph does not depend on the graph it was made from.
  const cudaError_t destroyed = cudaGraphDestroy(graph);
  if (made != cudaSuccess) {
    (void)cudaGetLastError();
    return cuda_failure(made, "cudaGraphInstantiate(&exec, graph, 0)", __FILE__, __LINE__);
  }
  execs_[static_cast<size_t>(tokens)] = exec;
  ++count_;
  SPILLWAY_CUDA_TRY(destroyed);
  return {};
}

std::string step_graphs::launch(int tokens, cudaStream_t stream) const {
  if (!has(tokens)) return "no graph for this batch size";
  SPILLWAY_CUDA_TRY(cudaGraphLaunch(execs_[static_cast<size_t>(tokens)], stream));
  return {};
}

}  // namespace spillway::engine::cuda
