// Writes this step's K and V rows into their paged-cache slots (vLLM's reshape_and_cache).
#include "upstream-engine/kernels/kernels.hpp"

namespace spillway::engine::kernels {
namespace {

__global__ void kv_store_kernel(float* k_cache, float* v_cache, const float* k, const float* v,
                                const int32_t* slots, int kv_dim) {
  const size_t t = blockIdx.x;
  const size_t dst = static_cast<size_t>(slots[t]) * kv_dim;
  for (int i = threadIdx.x; i < kv_dim; i += blockDim.x) {
    k_cache[dst + i] = k[t * kv_dim + i];
    v_cache[dst + i] = v[t * kv_dim + i];
  }
}

}  // namespace

cudaError_t kv_store(float* k_cache, float* v_cache, const float* k, const float* v,
                     const int32_t* slots, int n, int kv_dim, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  kv_store_kernel<<<n, 128, 0, stream>>>(k_cache, v_cache, k, v, slots, kv_dim);
  return cudaGetLastError();
}

}  // namespace spillway::engine::kernels
