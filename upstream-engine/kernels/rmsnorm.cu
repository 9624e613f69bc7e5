// RMSNorm (Zhang & Sennrich 2019) as llama2.c: one block per row, a block sum of squares.
#include "upstream-engine/kernels/kernels.hpp"
#include "upstream-engine/kernels/reduce.cuh"

namespace spillway::engine::kernels {
namespace {

__global__ void rmsnorm_kernel(float* out, const float* x, const int32_t* rows, const float* w,
                               int dim) {
  __shared__ float scratch[32];
  const size_t r = blockIdx.x;
  const float* in = x + static_cast<size_t>(rows ? rows[r] : r) * dim;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += in[i] * in[i];
  ss = block_sum(ss, scratch);
  const float scale = rsqrtf(ss / dim + 1e-5f);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) out[r * dim + i] = w[i] * (scale * in[i]);
}

}  // namespace

cudaError_t rmsnorm(float* out, const float* x, const int32_t* rows, int n, const float* weight,
                    int dim, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  rmsnorm_kernel<<<n, 256, 0, stream>>>(out, x, rows, weight, dim);
  return cudaGetLastError();
}

}  // namespace spillway::engine::kernels
