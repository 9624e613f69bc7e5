#include "upstream-engine/cli/backend_factory.hpp"

#include <algorithm>
#include <thread>

#include "upstream-engine/reference/cpu_backend.hpp"
#ifdef SPILLWAY_HAVE_CUDA
#include "upstream-engine/cuda/cuda_backend.hpp"
#endif

namespace spillway::engine::cli {

int cuda_device_count() {
#ifdef SPILLWAY_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

std::string resolve_device(const std::string& requested, std::string& error) {
  if (requested == "cpu") return "cpu";
  if (requested == "auto") return cuda_device_count() > 0 ? "cuda" : "cpu";
  if (requested == "cuda") {
#ifdef SPILLWAY_HAVE_CUDA
    if (cuda_device_count() > 0) return "cuda";
    error = "--device cuda: no CUDA device is available";
#else
    error = "--device cuda: this build has no CUDA backend (nvcc was not found at build time)";
#endif
    return {};
  }
  error = "--device must be auto, cpu or cuda, got '" + requested + "'";
  return {};
}

runtime::kv_geometry plan_geometry(const model::model_config& c, const backend_options& o) {
  runtime::kv_geometry g;
  g.block_size = std::max(1, o.block_size);
  const int per_context = (c.seq_len + g.block_size - 1) / g.block_size;
  const int min_blocks = per_context + 1;
  int blocks = o.kv_blocks;
  if (blocks <= 0) {
    const double bytes_per_block = 2.0 * c.n_layers * g.block_size * c.kv_dim() * sizeof(float);
    const int budget =
        static_cast<int>(std::min(1e9, o.kv_cache_mib * 1048576.0 / bytes_per_block));
    blocks = std::min(budget, per_context * std::max(1, o.max_batch));
  }
  g.num_blocks = std::max(blocks, min_blocks);
  return g;
}

std::unique_ptr<runtime::backend> make_backend(const model::checkpoint& ck,
                                               const backend_options& o, std::string& error) {
  const std::string device = resolve_device(o.device, error);
  if (device.empty()) return nullptr;
  const runtime::kv_geometry g = plan_geometry(ck.config(), o);
#ifdef SPILLWAY_HAVE_CUDA
  if (device == "cuda") {
    cuda::cuda_options co;
    co.graphs = o.cuda_graphs;
    co.max_batch = o.max_batch;
    return cuda::make_cuda_backend(ck, g, error, co);
  }
#endif
  const int threads = o.threads > 0
                          ? o.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::make_unique<reference::cpu_backend>(ck, g, threads);
}

}  // namespace spillway::engine::cli
