// CPU building blocks of the llama2 transformer (Karpathy, llama2.c run.c): batched matrix
// products (one pass over the weights serves a whole batch of rows), RMSNorm, RoPE, SwiGLU and
// attention over a paged KV cache. Every output element is computed by one fixed sequence of
// operations whatever the batch size, tiling or thread count, so batched and one-at-a-time runs
// give bit-identical results. Inner loops use 8-wide vectors (AVX-512VL and AVX2+FMA builds of
// them are picked at run time when the CPU has them).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "upstream-engine/reference/thread_pool.hpp"

namespace spillway::engine::reference {

/// out[b][i] = sum_j w[i][j] * x[b][j] for b < rows, i < out_dim; w is [out_dim][in_dim].
void matmul(float* out, const float* x, const float* w, int rows, int in_dim, int out_dim,
            thread_pool& pool);

/// One output of matmul_many: out is [rows][out_dim], w is [out_dim][in_dim].
struct matmul_part {
  float* out;
  const float* w;
  int out_dim;
};

/// matmul of the same input against several weight matrices in one hand-off to the threads
/// (Q, K and V; the two FFN inputs): the same bits as one matmul call per part.
void matmul_many(std::span<const matmul_part> parts, const float* x, int rows, int in_dim,
                 thread_pool& pool);

/// out = x / rms(x) * weight over `n` values (eps 1e-5, as llama2.c).
void rmsnorm(float* out, const float* x, const float* weight, int n);

/// Rotates pairs (v[i], v[i+1]) of each head by pos * theta_i; cos_sin holds, for this
/// position, head_size/2 cos values followed by head_size/2 sin values.
void rope(float* v, int n, int head_size, const float* cos_sin);

/// a[i] = silu(a[i]) * b[i].
void swiglu(float* a, const float* b, int n);

/// Paged KV cache view for one layer: block-major, [block][slot][kv_dim].
struct paged_kv {
  const float* k;
  const float* v;
  int block_size;
  int kv_dim;
};

/// Attention of one query head over positions 0..pos of one sequence. `scores` needs pos+1 floats.
void attend(float* out, const float* q, const paged_kv& kv, const int32_t* block_table, int pos,
            int head_size, int kv_head, float* scores);

/// Instruction sets the kernels are built for that this CPU runs, fastest first: "avx512"
/// (AVX-512VL, 8-wide as AVX2 but with twice the registers: larger tiles), "avx2" (AVX2+FMA),
/// "baseline". avx512 and avx2 give the same bits; baseline (no FMA) does not.
std::vector<std::string> kernel_isas();

/// Switches every later kernel call to `isa` (tests and benchmarks; not while a product runs).
/// False, and nothing changes, if this CPU does not run it.
bool use_kernel_isa(std::string_view isa);

/// The instruction set in use (the first of kernel_isas() unless use_kernel_isa changed it).
const char* kernel_isa();

/// Index of the largest value (first on ties).
int32_t argmax(const float* v, int n);

}  // namespace spillway::engine::reference
