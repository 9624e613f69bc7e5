#include "upstream-engine/reference/cpu_ops.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace spillway::engine::reference {
namespace {

// GCC/Clang vector extensions: portable, and the unaligned typedef allows loads from the
// 4-byte-aligned weights of the mapped checkpoint.
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t v8i __attribute__((vector_size(32)));

// The same 8-wide code built three times: every FMA and sum is the same operation in each, so
// the AVX-512VL build (twice the registers, hence more input rows per tile) gives the AVX2
// build's bits. A tile holds 2 x MAX_NB accumulators (one panel of 16 rows x MAX_NB input rows)
// beside two weight vectors and a broadcast: 19 of AVX-512VL's 32 registers (8 measured
// fastest: 56 G multiply-adds/s at batch 16 on the EPYC VM, against 54 with 12 and 47 with
// 16-wide registers), 15 of AVX2's 16.
#if defined(__x86_64__)
#define SPILLWAY_KERNEL_NS avx512
#define SPILLWAY_KERNEL_TARGET __attribute__((target("avx2,fma,avx512f,avx512vl")))
#define SPILLWAY_KERNEL_FMA 1
#define SPILLWAY_KERNEL_MAX_NB 8
#include "upstream-engine/reference/cpu_kernels.inc"
#undef SPILLWAY_KERNEL_NS
#undef SPILLWAY_KERNEL_TARGET
#undef SPILLWAY_KERNEL_FMA
#undef SPILLWAY_KERNEL_MAX_NB

#define SPILLWAY_KERNEL_NS avx2
#define SPILLWAY_KERNEL_TARGET __attribute__((target("avx2,fma")))
#define SPILLWAY_KERNEL_FMA 1
#define SPILLWAY_KERNEL_MAX_NB 6
#include "upstream-engine/reference/cpu_kernels.inc"
#undef SPILLWAY_KERNEL_NS
#undef SPILLWAY_KERNEL_TARGET
#undef SPILLWAY_KERNEL_FMA
#undef SPILLWAY_KERNEL_MAX_NB
#endif

#define SPILLWAY_KERNEL_NS baseline
#define SPILLWAY_KERNEL_TARGET
#define SPILLWAY_KERNEL_FMA 0
#define SPILLWAY_KERNEL_MAX_NB 2
#include "upstream-engine/reference/cpu_kernels.inc"
#undef SPILLWAY_KERNEL_NS
#undef SPILLWAY_KERNEL_TARGET
#undef SPILLWAY_KERNEL_FMA
#undef SPILLWAY_KERNEL_MAX_NB

using matmul_panels_fn = void (*)(float*, const float*, const float*, int, int, int, int, int);
using attend_fn = void (*)(float*, const float*, const paged_kv&, const int32_t*, int, int, int,
                           int, int, float*);
using argmax_fn = int32_t (*)(const float*, int);
using swiglu_fn = void (*)(float*, const float*, int);

struct kernel_set {
  const char* isa;
  matmul_panels_fn matmul_panels;
  attend_fn attend;
  argmax_fn argmax;
  swiglu_fn swiglu;
};

#if defined(__x86_64__)
constexpr kernel_set avx512_set{"avx512", avx512::matmul_panels, avx512::attend_impl,
                                avx512::argmax_impl, avx512::swiglu_impl};
constexpr kernel_set avx2_set{"avx2", avx2::matmul_panels, avx2::attend_impl, avx2::argmax_impl,
                              avx2::swiglu_impl};
#endif
constexpr kernel_set baseline_set{"baseline", baseline::matmul_panels, baseline::attend_impl,
                                  baseline::argmax_impl, baseline::swiglu_impl};

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

size_t packed_floats(int in_dim, int out_dim) {
  const size_t panels = static_cast<size_t>((out_dim + panel_rows - 1) / panel_rows);
  return panels * panel_rows * static_cast<size_t>(in_dim);
}

void pack_matrix(float* dst, const float* w, int in_dim, int out_dim) {
  const size_t n = static_cast<size_t>(in_dim);
  std::memset(dst, 0, packed_floats(in_dim, out_dim) * sizeof(float));
  for (int i = 0; i < out_dim; ++i) {
    float* panel = dst + static_cast<size_t>(i / panel_rows) * panel_rows * n + i % panel_rows;
    const float* row = w + static_cast<size_t>(i) * n;
    for (size_t k = 0; k < n; ++k) panel[k * panel_rows] = row[k];
  }
}

void matmul(float* out, const float* x, const packed_matrix& w, int rows, thread_pool& pool) {
  const matmul_part part{out, w};
  matmul_many(std::span(&part, 1), x, rows, pool);
}

void matmul_many(std::span<const matmul_part> parts, const float* x, int rows, thread_pool& pool) {
  if (parts.empty() || rows <= 0) return;
  const int in_dim = parts[0].w.in_dim;
  // One equal range of the panels (all parts end to end) per thread, each of at least
  // min_share multiply-adds (below that the hand-off costs more than it saves).
  constexpr size_t min_share = 32 * 1024;
  size_t n_panels = 0;
  for (const matmul_part& p : parts)
    n_panels += static_cast<size_t>((p.w.out_dim + panel_rows - 1) / panel_rows);
  const size_t work =
      n_panels * panel_rows * static_cast<size_t>(rows) * static_cast<size_t>(in_dim);
  const size_t shares = std::clamp<size_t>(work / min_share, 1, static_cast<size_t>(pool.size()));
  const size_t grain = (n_panels + shares - 1) / shares;
  (void)kernels();  // resolve before the threads race to
  pool.parallel_for(n_panels, grain, [&](size_t r0, size_t r1) {
    size_t first = 0;  // of the current part, in the concatenated panels
    for (const matmul_part& p : parts) {
      const size_t end = first + static_cast<size_t>((p.w.out_dim + panel_rows - 1) / panel_rows);
      const size_t i0 = std::max(r0, first), i1 = std::min(r1, end);
      if (i0 < i1)
        kernels().matmul_panels(p.out, x, p.w.data, rows, in_dim, p.w.out_dim,
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
  kernels().swiglu(a, b, n);
}

void attend(float* out, const float* q, const paged_kv& kv, const int32_t* block_table, int pos,
            int head_size, int kv_head, float* scores) {
  kernels().attend(out, q, kv, block_table, pos, head_size, kv_head, 1, 1, scores);
}

void attend_heads(float* out, const float* q, const paged_kv& kv, const int32_t* block_table,
                  int pos, int head_size, int first_head, int n_heads, int kv_mul, float* scores) {
  kernels().attend(out, q, kv, block_table, pos, head_size, first_head, n_heads, kv_mul, scores);
}

int32_t argmax(const float* v, int n) {
  return kernels().argmax(v, n);
}

}  // namespace spillway::engine::reference
