#include "upstream-engine/reference/cpu_ops.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>

namespace spillway::engine::reference {
namespace {

// GCC/Clang vector extensions: portable, and the unaligned typedef allows loads from the
// 4-byte-aligned weights of the mapped checkpoint.
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));

// The same 8-wide code built three times: every FMA and sum is the same operation in each, so
// the AVX-512VL build (twice the registers, hence larger tiles) gives the AVX2 build's bits.
#if defined(__x86_64__)
#define SPILLWAY_KERNEL_NS avx512
#define SPILLWAY_KERNEL_TARGET __attribute__((target("avx2,fma,avx512f,avx512vl")))
#define SPILLWAY_KERNEL_TILE_ROWS 4
#include "upstream-engine/reference/cpu_kernels.inc"
#undef SPILLWAY_KERNEL_NS
#undef SPILLWAY_KERNEL_TARGET
#undef SPILLWAY_KERNEL_TILE_ROWS

#define SPILLWAY_KERNEL_NS avx2
#define SPILLWAY_KERNEL_TARGET __attribute__((target("avx2,fma")))
#define SPILLWAY_KERNEL_TILE_ROWS 3
#include "upstream-engine/reference/cpu_kernels.inc"
#undef SPILLWAY_KERNEL_NS
#undef SPILLWAY_KERNEL_TARGET
#undef SPILLWAY_KERNEL_TILE_ROWS
#endif

#define SPILLWAY_KERNEL_NS baseline
#define SPILLWAY_KERNEL_TARGET
#define SPILLWAY_KERNEL_TILE_ROWS 2
#include "upstream-engine/reference/cpu_kernels.inc"
#undef SPILLWAY_KERNEL_NS
#undef SPILLWAY_KERNEL_TARGET
#undef SPILLWAY_KERNEL_TILE_ROWS

using matmul_block_fn = void (*)(float*, const float*, const float*, int, int, int, int, int, int);
using attend_fn = void (*)(float*, const float*, const paged_kv&, const int32_t*, int, int, int,
                           float*);

struct kernel_set {
  const char* isa;
  matmul_block_fn matmul_block;
  attend_fn attend;
};

#if defined(__x86_64__)
constexpr kernel_set avx512_set{"avx512", avx512::matmul_block, avx512::attend_impl};
constexpr kernel_set avx2_set{"avx2", avx2::matmul_block, avx2::attend_impl};
#endif
constexpr kernel_set baseline_set{"baseline", baseline::matmul_block, baseline::attend_impl};

bool cpu_runs(const kernel_set& k) {
#if defined(__x86_64__)
  // Not an ifunc: those run before sanitizer runtimes.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (&k == &avx512_set)
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  if (&k == &avx2_set) return avx2;
#endif
  return &k == &baseline_set;
}

// Fastest first.
const kernel_set* const all_sets[] = {
#if defined(__x86_64__)
    &avx512_set, &avx2_set,
#endif
    &baseline_set};

std::atomic<const kernel_set*>& current() {
  static std::atomic<const kernel_set*> k{[] {
    for (const kernel_set* s : all_sets)
      if (cpu_runs(*s)) return s;
    return &baseline_set;
  }()};
  return k;
}

const kernel_set& kernels() {
  return *current().load(std::memory_order_relaxed);
}

}  // namespace

std::vector<std::string> kernel_isas() {
  std::vector<std::string> out;
  for (const kernel_set* k : all_sets)
    if (cpu_runs(*k)) out.emplace_back(k->isa);
  return out;
}

bool use_kernel_isa(std::string_view isa) {
  for (const kernel_set* k : all_sets)
    if (isa == k->isa && cpu_runs(*k)) {
      current().store(k);
      return true;
    }
  return false;
}

const char* kernel_isa() {
  return kernels().isa;
}

void matmul(float* out, const float* x, const float* w, int rows, int in_dim, int out_dim,
            thread_pool& pool) {
  const matmul_part part{out, w, out_dim};
  matmul_many(std::span(&part, 1), x, rows, in_dim, pool);
}

void matmul_many(std::span<const matmul_part> parts, const float* x, int rows, int in_dim,
                 thread_pool& pool) {
  // Input rows in chunks small enough to stay in cache while the weights stream past.
  constexpr int row_chunk = 32;
  // One equal range of the outputs (all parts end to end) per thread, each of at least
  // min_share multiply-adds (below that the hand-off costs more than it saves), in whole tiles
  // of rows (48: a multiple of every tile height).
  constexpr size_t min_share = 32 * 1024;
  constexpr size_t tile_rows = 48;
  size_t n_out = 0;
  for (const matmul_part& p : parts) n_out += static_cast<size_t>(p.out_dim);
  const size_t work = n_out * static_cast<size_t>(rows) * static_cast<size_t>(in_dim);
  const size_t shares = std::clamp<size_t>(work / min_share, 1, static_cast<size_t>(pool.size()));
  const size_t grain = ((n_out + shares - 1) / shares + tile_rows - 1) / tile_rows * tile_rows;
  (void)kernels();  // resolve before the threads race to
  pool.parallel_for(n_out, grain, [&](size_t r0, size_t r1) {
    size_t first = 0;  // of the current part, in the concatenated outputs
    for (const matmul_part& p : parts) {
      const size_t end = first + static_cast<size_t>(p.out_dim);
      const size_t i0 = std::max(r0, first), i1 = std::min(r1, end);
      for (int b0 = 0; i0 < i1 && b0 < rows; b0 += row_chunk)
        kernels().matmul_block(p.out, x, p.w, b0, std::min(rows, b0 + row_chunk), in_dim, p.out_dim,
                               static_cast<int>(i0 - first), static_cast<int>(i1 - first));
      first = end;
    }
  });
}

void rmsnorm(float* out, const float* x, const float* weight, int n) {
  float ss = 0.0f;
  for (int j = 0; j < n; ++j) ss += x[j] * x[j];
  ss = 1.0f / std::sqrt(ss / static_cast<float>(n) + 1e-5f);
  for (int j = 0; j < n; ++j) out[j] = weight[j] * (ss * x[j]);
}

void rope(float* v, int n, int head_size, const float* cos_sin) {
  const int half = head_size / 2;
  for (int i = 0; i < n; i += 2) {
    const int k = (i % head_size) / 2;
    const float c = cos_sin[k], s = cos_sin[half + k];
    const float a = v[i], b = v[i + 1];
    v[i] = a * c - b * s;
    v[i + 1] = a * s + b * c;
  }
}

void swiglu(float* a, const float* b, int n) {
  for (int i = 0; i < n; ++i) {
    const float x = a[i];
    a[i] = x / (1.0f + std::exp(-x)) * b[i];
  }
}

void attend(float* out, const float* q, const paged_kv& kv, const int32_t* block_table, int pos,
            int head_size, int kv_head, float* scores) {
  kernels().attend(out, q, kv, block_table, pos, head_size, kv_head, scores);
}

int32_t argmax(const float* v, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

}  // namespace spillway::engine::reference
