// SwiGLU gate (Shazeer 2020): a = silu(a) * b, element-wise.
#include "upstream-engine/kernels/kernels.hpp"

namespace spillway::engine::kernels {
namespace {

__global__ void swiglu_kernel(float* a, const float* b, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = a[i];
  a[i] = x / (1.0f + expf(-x)) * b[i];
}

}  // namespace

cudaError_t swiglu(float* a, const float* b, size_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int threads = 256;
  swiglu_kernel<<<static_cast<unsigned>((n + threads - 1) / threads), threads, 0, stream>>>(a, b,
                                                                                            n);
  return cudaGetLastError();
}

}  // namespace spillway::engine::kernels
