// Token embedding lookup: one block per token, threads across the row.
#include "upstream-engine/kernels/kernels.hpp"

namespace spillway::engine::kernels {
namespace {

__global__ void embedding_kernel(float* out, const float* table, const int32_t* tokens, int dim) {
  const size_t t = blockIdx.x;
  const float* row = table + static_cast<size_t>(tokens[t]) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) out[t * dim + i] = row[i];
}

}  // namespace

cudaError_t embedding(float* out, const float* table, const int32_t* tokens, int n, int dim,
                      cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  embedding_kernel<<<n, 256, 0, stream>>>(out, table, tokens, dim);
  return cudaGetLastError();
}

}  // namespace spillway::engine::kernels
