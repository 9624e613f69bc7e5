// Rotary position embedding (Su et al. 2021) with llama2.c's pairing of adjacent elements:
// one thread per (token, pair) of q; pairs below kv_dim also rotate k.
#include "upstream-engine/kernels/kernels.hpp"

namespace spillway::engine::kernels {
namespace {

__global__ void rope_kernel(float* q, float* k, const int32_t* pos, const float* cos_sin, int n,
                            int dim, int kv_dim, int head_size) {
  const int half_dim = dim / 2;
  const size_t idx = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<size_t>(n) * half_dim) return;
  const size_t t = idx / half_dim;
  const int i = static_cast<int>(idx % half_dim) * 2;
  const int half = head_size / 2;
  const int pair = (i % head_size) / 2;
  const float* cs = cos_sin + static_cast<size_t>(pos[t]) * head_size;
  const float c = cs[pair], s = cs[half + pair];
  float* qv = q + t * dim + i;
  const float a = qv[0], b = qv[1];
  qv[0] = a * c - b * s;
  qv[1] = a * s + b * c;
  if (i < kv_dim) {
    float* kv = k + t * kv_dim + i;
    const float ka = kv[0], kb = kv[1];
    kv[0] = ka * c - kb * s;
    kv[1] = ka * s + kb * c;
  }
}

}  // namespace

cudaError_t rope(float* q, float* k, const int32_t* pos, const float* cos_sin, int n, int dim,
                 int kv_dim, int head_size, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(n) * (dim / 2);
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  const unsigned blocks = static_cast<unsigned>((total + threads - 1) / threads);
  rope_kernel<<<blocks, threads, 0, stream>>>(q, k, pos, cos_sin, n, dim, kv_dim, head_size);
  return cudaGetLastError();
}

}  // namespace spillway::engine::kernels
