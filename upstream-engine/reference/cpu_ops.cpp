#include "upstream-engine/reference/cpu_ops.hpp"

#include <algorithm>
#include <cmath>

namespace spillway::engine::reference {
namespace {

// GCC/Clang vector extensions: portable, and the unaligned typedef allows loads from the
// 4-byte-aligned weights of the mapped checkpoint.
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));

#define SPILLWAY_INLINE inline __attribute__((always_inline))
// The ifunc resolver behind target_clones runs before ThreadSanitizer's runtime is up.
#if defined(__x86_64__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define SPILLWAY_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define SPILLWAY_CLONES
#endif

SPILLWAY_INLINE v8 load8(const float* p) { return *reinterpret_cast<const v8u*>(p); }

// Fixed reduction order: every kernel below ends an element with exactly this sum.
SPILLWAY_INLINE float finish(v8 a, const float* w, const float* x, int n8, int n) {
  float s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
  for (int j = n8; j < n; ++j) s += w[j] * x[j];
  return s;
}

SPILLWAY_INLINE float dot(const float* w, const float* x, int n) {
  const int n8 = n & ~7;
  v8 a = {};
  for (int j = 0; j < n8; j += 8) a += load8(w + j) * load8(x + j);
  return finish(a, w, x, n8, n);
}

// Two weight rows against four input rows: eight accumulators, each weight load used 4 times.
SPILLWAY_INLINE void kernel_2x4(float* out, int out_stride, const float* w0, const float* w1,
                                const float* x, int x_stride, int n) {
  const int n8 = n & ~7;
  const float* x0 = x;
  const float* x1 = x + x_stride;
  const float* x2 = x + 2 * x_stride;
  const float* x3 = x + 3 * x_stride;
  v8 a00 = {}, a01 = {}, a02 = {}, a03 = {}, a10 = {}, a11 = {}, a12 = {}, a13 = {};
  for (int j = 0; j < n8; j += 8) {
    const v8 p = load8(w0 + j), q = load8(w1 + j);
    const v8 y0 = load8(x0 + j), y1 = load8(x1 + j), y2 = load8(x2 + j), y3 = load8(x3 + j);
    a00 += p * y0;
    a01 += p * y1;
    a02 += p * y2;
    a03 += p * y3;
    a10 += q * y0;
    a11 += q * y1;
    a12 += q * y2;
    a13 += q * y3;
  }
  out[0] = finish(a00, w0, x0, n8, n);
  out[1] = finish(a10, w1, x0, n8, n);
  out[out_stride] = finish(a01, w0, x1, n8, n);
  out[out_stride + 1] = finish(a11, w1, x1, n8, n);
  out[2 * out_stride] = finish(a02, w0, x2, n8, n);
  out[2 * out_stride + 1] = finish(a12, w1, x2, n8, n);
  out[3 * out_stride] = finish(a03, w0, x3, n8, n);
  out[3 * out_stride + 1] = finish(a13, w1, x3, n8, n);
}

SPILLWAY_INLINE void kernel_2x1(float* out, const float* w0, const float* w1, const float* x,
                                int n) {
  const int n8 = n & ~7;
  v8 a0 = {}, a1 = {};
  for (int j = 0; j < n8; j += 8) {
    const v8 y = load8(x + j);
    a0 += load8(w0 + j) * y;
    a1 += load8(w1 + j) * y;
  }
  out[0] = finish(a0, w0, x, n8, n);
  out[1] = finish(a1, w1, x, n8, n);
}

// Rows [i0, i1) of the output for input rows [b0, b1).
SPILLWAY_CLONES void matmul_block(float* out, const float* x, const float* w, int b0, int b1,
                                  int in_dim, int out_dim, int i0, int i1) {
  int i = i0;
  for (; i + 2 <= i1; i += 2) {
    const float* w0 = w + static_cast<size_t>(i) * in_dim;
    const float* w1 = w0 + in_dim;
    int b = b0;
    for (; b + 4 <= b1; b += 4)
      kernel_2x4(out + static_cast<size_t>(b) * out_dim + i, out_dim, w0, w1,
                 x + static_cast<size_t>(b) * in_dim, in_dim, in_dim);
    for (; b < b1; ++b)
      kernel_2x1(out + static_cast<size_t>(b) * out_dim + i, w0, w1,
                 x + static_cast<size_t>(b) * in_dim, in_dim);
  }
  for (; i < i1; ++i) {
    const float* wi = w + static_cast<size_t>(i) * in_dim;
    for (int b = b0; b < b1; ++b)
      out[static_cast<size_t>(b) * out_dim + i] = dot(wi, x + static_cast<size_t>(b) * in_dim, in_dim);
  }
}

SPILLWAY_CLONES void attend_impl(float* out, const float* q, const paged_kv& kv,
                                 const int32_t* block_table, int pos, int head_size, int kv_head,
                                 float* scores) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_size));
  const size_t head_off = static_cast<size_t>(kv_head) * head_size;
  auto slot = [&](int p) {
    const size_t block = static_cast<size_t>(block_table[p / kv.block_size]);
    return (block * kv.block_size + static_cast<size_t>(p % kv.block_size)) * kv.kv_dim + head_off;
  };
  float max = -INFINITY;
  for (int p = 0; p <= pos; ++p) {
    scores[p] = dot(q, kv.k + slot(p), head_size) * scale;
    max = std::max(max, scores[p]);
  }
  float sum = 0.0f;
  for (int p = 0; p <= pos; ++p) {
    scores[p] = std::exp(scores[p] - max);
    sum += scores[p];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < head_size; ++i) out[i] = 0.0f;
  for (int p = 0; p <= pos; ++p) {
    const float a = scores[p] * inv;
    const float* v = kv.v + slot(p);
    for (int i = 0; i < head_size; ++i) out[i] += a * v[i];
  }
}

}  // namespace

void matmul(float* out, const float* x, const float* w, int rows, int in_dim, int out_dim,
            thread_pool& pool) {
  // Input rows in chunks small enough to stay in cache while the weights stream past.
  constexpr int row_chunk = 32;
  pool.parallel_for(static_cast<size_t>(out_dim), 16, [&](size_t i0, size_t i1) {
    for (int b0 = 0; b0 < rows; b0 += row_chunk)
      matmul_block(out, x, w, b0, std::min(rows, b0 + row_chunk), in_dim, out_dim,
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
  attend_impl(out, q, kv, block_table, pos, head_size, kv_head, scores);
}

int32_t argmax(const float* v, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

}  // namespace spillway::engine::reference
