// CPU building blocks of the llama2 transformer (Karpathy, llama2.c run.c): batched matrix
// products over packed weights (one pass over the weights serves a whole batch of rows), RMSNorm,
// RoPE, SwiGLU and attention over a paged KV cache. Every output element is computed by one fixed
// sequence of operations whatever the batch size, tiling or thread count, so batched and
// one-at-a-time runs give bit-identical results. Inner loops use 8-wide vectors (AVX-512VL and
// AVX2+FMA builds of them are picked at run time when the CPU has them).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "upstream-engine/reference/thread_pool.hpp"

namespace spillway::engine::reference {

/// Output rows per panel of a packed matrix.
inline constexpr int panel_rows = 16;

/// A weight matrix w [out_dim][in_dim] repacked for matmul (BLIS-style panels): panel p holds
/// output rows [16p, 16p + 16) as [in_dim][16], i.e. w[16p][k], ..., w[16p + 15][k] for k = 0,
/// then k = 1, ...; zero rows pad the last panel. Every kernel reads the panels as one sequential
/// stream, each k step is one 64-byte line (data 64-byte aligned) and no sums run across lanes.
struct packed_matrix {
  const float* data = nullptr;
  int in_dim = 0;
  int out_dim = 0;
};

/// Floats of a packed [out_dim][in_dim] matrix (a multiple of 16).
size_t packed_floats(int in_dim, int out_dim);

/// Packs row-major `w` [out_dim][in_dim] into `dst` (packed_floats(in_dim, out_dim) floats).
void pack_matrix(float* dst, const float* w, int in_dim, int out_dim);

/// out[b][i] = sum_k w[i][k] * x[b][k] for b < rows, i < w.out_dim; x is [rows][w.in_dim].
/// Each element is one fp32 FMA chain over k = 0, 1, ... (mul then add without FMA).
void matmul(float* out, const float* x, const packed_matrix& w, int rows, thread_pool& pool);

/// One output of matmul_many: out is [rows][w.out_dim].
struct matmul_part {
  float* out;
  packed_matrix w;
};

/// matmul of the same input against several weight matrices of the same in_dim in one hand-off
/// to the threads (Q, K and V; the two FFN inputs): the same bits as one matmul call per part.
void matmul_many(std::span<const matmul_part> parts, const float* x, int rows, thread_pool& pool);

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

/// Attention of query heads first_head .. first_head + n_heads - 1 of one token (their queries
/// and outputs side by side in q and out; head h reads KV head h / kv_mul), reading each K/V row
/// once for all of them. `scores` needs n_heads * (pos+1) floats. Each head gets the bits that
/// attend() alone gives it.
void attend_heads(float* out, const float* q, const paged_kv& kv, const int32_t* block_table,
                  int pos, int head_size, int first_head, int n_heads, int kv_mul, float* scores);

/// Instruction sets the kernels are built for that this CPU runs, fastest first: "avx512"
/// (AVX-512VL, 8-wide as AVX2 but with twice the registers: more input rows per tile), "avx2"
/// (AVX2+FMA),
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
