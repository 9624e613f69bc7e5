// Attention over the paged KV cache (PagedAttention, Kwon et al. 2023), simple form: one block
// per (token, head); scores for every position 0..pos in shared memory, a block softmax, then
// each thread accumulates one output dimension over the positions. Grouped-query heads share
// a KV head (h / (n_heads / n_kv_heads)).
#include "upstream-engine/kernels/kernels.hpp"
#include "upstream-engine/kernels/reduce.cuh"

#include <mutex>

namespace spillway::engine::kernels {
namespace {

constexpr int threads = 128;

__global__ void paged_attention_kernel(float* out, const float* q, const float* k_cache,
                                       const float* v_cache, const int32_t* block_table,
                                       const int32_t* table_offset, const int32_t* seq,
                                       const int32_t* pos, int n_heads, int n_kv_heads,
                                       int head_size, int block_size) {
  extern __shared__ float smem[];
  float* scratch = smem;           // 32
  float* qs = smem + 32;           // head_size
  float* scores = qs + head_size;  // pos + 1
  const size_t t = blockIdx.x;
  const int h = blockIdx.y;
  const int dim = n_heads * head_size;
  const int kv_dim = n_kv_heads * head_size;
  const int kvh = h / (n_heads / n_kv_heads);
  const int last = pos[t];
  const int32_t* table = block_table + table_offset[seq[t]];
  for (int i = threadIdx.x; i < head_size; i += blockDim.x) qs[i] = q[t * dim + h * head_size + i];
  __syncthreads();

  const float scale = rsqrtf(static_cast<float>(head_size));
  float local_max = -INFINITY;
  for (int p = threadIdx.x; p <= last; p += blockDim.x) {
    const size_t slot = static_cast<size_t>(table[p / block_size]) * block_size + p % block_size;
    const float* k = k_cache + slot * kv_dim + kvh * head_size;
    float d = 0.0f;
    for (int i = 0; i < head_size; ++i) d += qs[i] * k[i];
    scores[p] = d * scale;
    local_max = fmaxf(local_max, scores[p]);
  }
  const float mx = block_max(local_max, scratch);
  float local_sum = 0.0f;
  for (int p = threadIdx.x; p <= last; p += blockDim.x) {
    scores[p] = expf(scores[p] - mx);
    local_sum += scores[p];
  }
  const float inv = 1.0f / block_sum(local_sum, scratch);  // block_sum syncs: scores are visible

  for (int i = threadIdx.x; i < head_size; i += blockDim.x) {
    float acc = 0.0f;
    for (int p = 0; p <= last; ++p) {
      const size_t slot = static_cast<size_t>(table[p / block_size]) * block_size + p % block_size;
      acc += scores[p] * v_cache[slot * kv_dim + kvh * head_size + i];
    }
    out[t * dim + h * head_size + i] = acc * inv;
  }
}

size_t shared_bytes(int head_size, int max_context) {
  return (32 + static_cast<size_t>(head_size) + static_cast<size_t>(max_context)) * sizeof(float);
}

std::mutex opt_in_mutex;
size_t opted_in = 48 * 1024;  // guarded by opt_in_mutex; 48 KiB needs no opt-in

cudaError_t opt_in(size_t smem) {
  std::lock_guard lock(opt_in_mutex);
  if (smem <= opted_in) return cudaSuccess;
  int device = 0, limit = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e != cudaSuccess) return e;
  e = cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (e != cudaSuccess) return e;
  if (smem > static_cast<size_t>(limit)) return cudaErrorInvalidValue;
  e = cudaFuncSetAttribute(paged_attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(smem));
  if (e != cudaSuccess) return e;
  opted_in = smem;
  return cudaSuccess;
}

}  // namespace

cudaError_t paged_attention_prepare(int head_size, int max_context) {
  return opt_in(shared_bytes(head_size, max_context));
}

cudaError_t paged_attention(float* out, const float* q, const float* k_cache, const float* v_cache,
                            const int32_t* block_table, const int32_t* table_offset,
                            const int32_t* seq, const int32_t* pos, const attention_shape& s,
                            cudaStream_t stream) {
  if (s.n_tokens <= 0) return cudaSuccess;
  if (s.n_kv_heads <= 0 || s.n_heads % s.n_kv_heads != 0) return cudaErrorInvalidValue;
  const size_t smem = shared_bytes(s.head_size, s.max_context);
  if (const cudaError_t e = opt_in(smem); e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(s.n_tokens), static_cast<unsigned>(s.n_heads));
  paged_attention_kernel<<<grid, threads, smem, stream>>>(out, q, k_cache, v_cache, block_table,
                                                          table_offset, seq, pos, s.n_heads,
                                                          s.n_kv_heads, s.head_size, s.block_size);
  return cudaGetLastError();
}

}  // namespace spillway::engine::kernels
