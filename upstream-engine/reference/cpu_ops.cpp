#include "upstream-engine/reference/cpu_ops.hpp"

#include <algorithm>
#include <cmath>

namespace spillway::engine::reference {
namespace {

// GCC/Clang vector extensions: portable, and the unaligned typedef allows loads from the
// 4-byte-aligned weights of the mapped checkpoint.
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));

#if defined(__x86_64__)
#define SPILLWAY_KERNEL_NS avx2
#define SPILLWAY_KERNEL_TARGET __attribute__((target("avx2,fma")))
#include "upstream-engine/reference/cpu_kernels.inc"
#undef SPILLWAY_KERNEL_NS
#undef SPILLWAY_KERNEL_TARGET
#endif

#define SPILLWAY_KERNEL_NS baseline
#define SPILLWAY_KERNEL_TARGET
#include "upstream-engine/reference/cpu_kernels.inc"
#undef SPILLWAY_KERNEL_NS
#undef SPILLWAY_KERNEL_TARGET

using matmul_block_fn = void (*)(float*, const float*, const float*, int, int, int, int, int, int);
using attend_fn = void (*)(float*, const float*, const paged_kv&, const int32_t*, int, int, int,
                           float*);

struct kernel_set {
  matmul_block_fn matmul_block;
  attend_fn attend;
};

// Chosen once from the CPU's features (not an ifunc: those run before sanitizer runtimes).
const kernel_set& kernels() {
  static const kernel_set k = [] {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      return kernel_set{avx2::matmul_block, avx2::attend_impl};
#endif
    return kernel_set{baseline::matmul_block, baseline::attend_impl};
  }();
  return k;
}

}  // namespace

void matmul(float* out, const float* x, const float* w, int rows, int in_dim, int out_dim,
            thread_pool& pool) {
  // Input rows in chunks small enough to stay in cache while the weights stream past.
  constexpr int row_chunk = 32;
  // At least ~128k multiply-adds per thread: handing a smaller share to another thread costs
  // more in wake-up latency than it saves (most decode-step matrices at batch 1).
  constexpr size_t min_share = 128 * 1024;
  const size_t per_output = static_cast<size_t>(rows) * static_cast<size_t>(in_dim);
  const size_t grain =
      std::max<size_t>(16, (min_share / std::max<size_t>(1, per_output) + 15) / 16 * 16);
  (void)kernels();  // resolve before the threads race to
  pool.parallel_for(static_cast<size_t>(out_dim), grain, [&](size_t i0, size_t i1) {
    for (int b0 = 0; b0 < rows; b0 += row_chunk)
      kernels().matmul_block(out, x, w, b0, std::min(rows, b0 + row_chunk), in_dim, out_dim,
                             static_cast<int>(i0), static_cast<int>(i1));
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
