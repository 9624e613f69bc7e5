// Host entry points of the engine's CUDA kernels, one .cu per op (llm.c dev/cuda style). Each
// launches on `stream` and returns the launch's error (cudaGetLastError right after it), so the
// caller checks every launch. Pointers are device pointers; row-major layouts as in the CPU
// backend (reference/cpu_ops.hpp), which is each kernel's reference in the tests.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace spillway::engine::kernels {

/// out[t][:] = table[tokens[t]][:] for t < n.
cudaError_t embedding(float* out, const float* table, const int32_t* tokens, int n, int dim,
                      cudaStream_t stream);

/// out[r] = rmsnorm(x[rows ? rows[r] : r]) * weight for r < n (eps 1e-5).
cudaError_t rmsnorm(float* out, const float* x, const int32_t* rows, int n, const float* weight,
                    int dim, cudaStream_t stream);

/// Rotates q ([n][dim]) and k ([n][kv_dim]) pairs by position; cos_sin is [seq_len][head_size]
/// with head_size/2 cos values then head_size/2 sin values per position.
cudaError_t rope(float* q, float* k, const int32_t* pos, const float* cos_sin, int n, int dim,
                 int kv_dim, int head_size, cudaStream_t stream);

/// Writes each token's K and V rows into cache slot slots[t] (block * block_size + offset).
cudaError_t kv_store(float* k_cache, float* v_cache, const float* k, const float* v,
                     const int32_t* slots, int n, int kv_dim, cudaStream_t stream);

struct attention_shape {
  int n_tokens;
  int n_heads;
  int n_kv_heads;
  int head_size;
  int block_size;
  int max_context;  // bounds pos + 1 over the batch (sizes shared memory)
};

/// Opts the attention kernel in to the shared memory `max_context` positions need, where that is
/// beyond the default 48 KiB (paged_attention does it on demand otherwise; do it before a CUDA
/// graph capture, which should hold launches only). Per process: the engine uses one device.
cudaError_t paged_attention_prepare(int head_size, int max_context);

/// out[t][h] = softmax(q[t][h] . K[0..pos[t]] / sqrt(hs)) . V over the paged cache of token t's
/// sequence: block_table[table_offset[seq[t]] + p / block_size].
cudaError_t paged_attention(float* out, const float* q, const float* k_cache, const float* v_cache,
                            const int32_t* block_table, const int32_t* table_offset,
                            const int32_t* seq, const int32_t* pos, const attention_shape& shape,
                            cudaStream_t stream);

/// a[i] = silu(a[i]) * b[i].
cudaError_t swiglu(float* a, const float* b, size_t n, cudaStream_t stream);

/// out[r] = index of the largest logits[r][:] (first on ties).
cudaError_t argmax(int32_t* out, const float* logits, int rows, int vocab, cudaStream_t stream);

}  // namespace spillway::engine::kernels
