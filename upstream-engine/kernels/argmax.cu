// Greedy sampling: the index of each row's largest logit (the lowest index on ties, as the CPU
// backend), one block per row.
#include "upstream-engine/kernels/kernels.hpp"

namespace spillway::engine::kernels {
namespace {

constexpr int threads = 256;

__device__ inline void keep_best(float& v, int& i, float ov, int oi) {
  if (ov > v || (ov == v && oi < i)) {
    v = ov;
    i = oi;
  }
}

__global__ void argmax_kernel(int32_t* out, const float* logits, int vocab) {
  __shared__ float best_v[threads / 32];
  __shared__ int best_i[threads / 32];
  const float* row = logits + static_cast<size_t>(blockIdx.x) * vocab;
  float v = -INFINITY;
  int i = vocab;
  for (int k = threadIdx.x; k < vocab; k += blockDim.x) keep_best(v, i, row[k], k);
  for (int o = 16; o > 0; o >>= 1)
    keep_best(v, i, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) {
    best_v[warp] = v;
    best_i[warp] = i;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < threads / 32; ++w) keep_best(v, i, best_v[w], best_i[w]);
    out[blockIdx.x] = i < vocab ? i : 0;  // all-NaN row: fall back to token 0
  }
}

}  // namespace

cudaError_t argmax(int32_t* out, const float* logits, int rows, int vocab, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  argmax_kernel<<<rows, threads, 0, stream>>>(out, logits, vocab);
  return cudaGetLastError();
}

}  // namespace spillway::engine::kernels
