// The CPU matrix product over packed weights: every output element is the same sum whatever the
// batch size, tile, thread count or split, and it matches a double-precision product, with each
// kernel build this CPU runs. The AVX-512 and AVX2 builds give the same bits. Also the packing
// itself (ragged last panel), attention over paged blocks, SwiGLU and argmax.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "upstream-engine/reference/cpu_ops.hpp"

namespace spillway::engine::reference {
namespace {

std::vector<float> random_floats(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A row-major matrix and its packed copy.
struct matrix {
  std::vector<float> rows;
  std::vector<float> packed;
  int in_dim, out_dim;

  matrix(std::mt19937& rng, int in, int out)
      : rows(random_floats(rng, static_cast<size_t>(in) * out)),
        packed(packed_floats(in, out), NAN),
        in_dim(in),
        out_dim(out) {
    pack_matrix(packed.data(), rows.data(), in, out);
  }
  packed_matrix view() const { return {packed.data(), in_dim, out_dim}; }
};

// Runs `fn` once per kernel build this CPU runs, then restores the one in use.
template <class F>
void for_each_isa(F&& fn) {
  const std::string before = kernel_isa();
  for (const auto& isa : kernel_isas()) {
    SCOPED_TRACE(isa);
    ASSERT_TRUE(use_kernel_isa(isa));
    fn();
  }
  ASSERT_TRUE(use_kernel_isa(before));
}

// Every row of `rows`-row products of `m` (on `threads` threads) has the bits of its batch-1
// product; `check_every` > 0 also compares every check_every-th element of the last row with a
// double-precision product.
void expect_rows_match_single_row_products(const matrix& m, std::mt19937& rng,
                                           std::initializer_list<int> row_counts,
                                           std::initializer_list<int> thread_counts,
                                           int check_every) {
  const int in_dim = m.in_dim, out_dim = m.out_dim;
  thread_pool one(1);
  for (int threads : thread_counts) {
    thread_pool pool(threads, std::chrono::microseconds(0));  // always hands off
    for (int rows : row_counts) {
      const auto x = random_floats(rng, static_cast<size_t>(rows) * in_dim);
      std::vector<float> batched(static_cast<size_t>(rows) * out_dim, NAN);
      matmul(batched.data(), x.data(), m.view(), rows, pool);
      for (int b = 0; b < rows; ++b) {
        std::vector<float> single(static_cast<size_t>(out_dim), NAN);
        matmul(single.data(), x.data() + static_cast<size_t>(b) * in_dim, m.view(), 1, one);
        ASSERT_EQ(std::memcmp(single.data(), batched.data() + static_cast<size_t>(b) * out_dim,
                              single.size() * sizeof(float)),
                  0)
            << "row " << b << " of " << rows << ", " << in_dim << "x" << out_dim << ", " << threads
            << " threads";
        if (b != rows - 1 || check_every <= 0) continue;  // the double-precision check once
        std::vector<int> check;  // every check_every-th element and the last one
        for (int i = 0; i < out_dim; i += check_every) check.push_back(i);
        if (check.back() != out_dim - 1) check.push_back(out_dim - 1);
        for (int i : check) {
          double ref = 0.0;
          for (int j = 0; j < in_dim; ++j)
            ref += static_cast<double>(m.rows[static_cast<size_t>(i) * in_dim + j]) *
                   x[static_cast<size_t>(b) * in_dim + j];
          ASSERT_NEAR(single[static_cast<size_t>(i)], ref, 1e-5 * in_dim)
              << "element " << i << " of row " << b << ", " << in_dim << "x" << out_dim;
        }
      }
    }
  }
}

TEST(CpuPack, PanelsHoldEveryRowAndZeroPadding) {
  std::mt19937 rng(3);
  for (const auto& [in_dim, out_dim] :
       {std::pair{5, 16}, std::pair{7, 37}, std::pair{288, 296}, std::pair{3, 1}}) {
    const matrix m(rng, in_dim, out_dim);
    const int panels = (out_dim + panel_rows - 1) / panel_rows;
    ASSERT_EQ(m.packed.size(), static_cast<size_t>(panels) * panel_rows * in_dim);
    for (int p = 0; p < panels; ++p)
      for (int k = 0; k < in_dim; ++k)
        for (int r = 0; r < panel_rows; ++r) {
          const int i = p * panel_rows + r;
          const float got =
              m.packed[(static_cast<size_t>(p) * in_dim + k) * panel_rows + static_cast<size_t>(r)];
          const float want = i < out_dim ? m.rows[static_cast<size_t>(i) * in_dim + k] : 0.0f;
          ASSERT_EQ(std::memcmp(&got, &want, sizeof got), 0)
              << "panel " << p << " k " << k << " row " << r << ", " << in_dim << "x" << out_dim;
        }
  }
}

TEST(CpuMatmul, EveryRowIsBitIdenticalToItsSingleRowProduct) {
  for_each_isa([] {
    std::mt19937 rng(7);
    // in_dim with a tail that is not a multiple of 8; out_dim with a ragged last panel.
    for (const auto& [in_dim, out_dim] :
         {std::pair{288, 296}, std::pair{77, 51}, std::pair{768, 1000}, std::pair{9, 3}}) {
      const matrix m(rng, in_dim, out_dim);
      expect_rows_match_single_row_products(m, rng, {1, 2, 3, 5, 8, 9, 16, 17, 33, 70}, {1, 3}, 1);
    }
  });
}

// Every matrix shape of the tiny and small presets (dim 64/288, kv_dim 32/288, hidden 176/768,
// vocab 512/32000), batch 1 against batch N.
TEST(CpuMatmul, PresetShapesMatchSingleRowsAndDoublePrecision) {
  struct shape {
    int in_dim, out_dim, check_every;
  };
  const shape shapes[] = {{64, 64, 1},   {64, 32, 1},   {64, 176, 1},
                          {176, 64, 1},  {64, 512, 1},  {288, 288, 1},
                          {288, 768, 1}, {768, 288, 1}, {288, 32000, 97}};
  std::mt19937 rng(13);
  for (const shape& s : shapes) {
    const matrix m(rng, s.in_dim, s.out_dim);
    const bool large = s.out_dim > 4096;
    // Under the sanitizers the classifier-sized product is slow: fewer batch sizes.
    if (large)
      expect_rows_match_single_row_products(m, rng, {16}, {2}, s.check_every);
    else
      expect_rows_match_single_row_products(m, rng, {4, 16, 19}, {2}, s.check_every);
  }
}

TEST(CpuMatmul, SeveralMatricesInOneHandOffGiveTheSameBits) {
  std::mt19937 rng(5);
  const int in_dim = 77;
  const std::vector<matrix> ms = {matrix(rng, in_dim, 51), matrix(rng, in_dim, 296),
                                  matrix(rng, in_dim, 7)};
  thread_pool pool(3, std::chrono::microseconds(0)), one(1);
  for (int rows : {1, 5, 16}) {
    const auto x = random_floats(rng, static_cast<size_t>(rows) * in_dim);
    std::vector<std::vector<float>> together(3), apart(3);
    std::vector<matmul_part> parts;
    for (size_t p = 0; p < ms.size(); ++p) {
      together[p].assign(static_cast<size_t>(rows) * ms[p].out_dim, NAN);
      apart[p].assign(static_cast<size_t>(rows) * ms[p].out_dim, NAN);
      parts.push_back({together[p].data(), ms[p].view()});
      matmul(apart[p].data(), x.data(), ms[p].view(), rows, one);
    }
    matmul_many(parts, x.data(), rows, pool);
    for (size_t p = 0; p < ms.size(); ++p)
      EXPECT_EQ(std::memcmp(together[p].data(), apart[p].data(), apart[p].size() * sizeof(float)),
                0)
          << "part " << p << ", " << rows << " rows";
  }
}

// Attention of one head over a paged cache against a double-precision softmax(q.k) v.
TEST(CpuAttend, MatchesDoublePrecisionOverPagedBlocks) {
  for_each_isa([] {
    std::mt19937 rng(17);
    // Head sizes with and without a tail beyond multiples of 8 and of 64.
    for (const int head_size : {48, 64, 20, 72}) {
      for (const int block_size : {1, 4, 5, 16}) {
        const int kv_heads = 2, kv_dim = head_size * kv_heads, blocks = 12;
        const int pos = std::min(blocks * block_size - 1, 37);
        const auto k = random_floats(rng, static_cast<size_t>(blocks) * block_size * kv_dim);
        const auto v = random_floats(rng, static_cast<size_t>(blocks) * block_size * kv_dim);
        const auto q = random_floats(rng, static_cast<size_t>(head_size));
        std::vector<int32_t> table(static_cast<size_t>(blocks));
        for (int b = 0; b < blocks; ++b) table[static_cast<size_t>(b)] = (b * 5 + 3) % blocks;
        std::vector<float> out(static_cast<size_t>(head_size), NAN),
            scores(static_cast<size_t>(pos) + 1);
        const int kv_head = 1;
        attend(out.data(), q.data(), paged_kv{k.data(), v.data(), block_size, kv_dim}, table.data(),
               pos, head_size, kv_head, scores.data());
        auto slot = [&](int p) {
          return (static_cast<size_t>(table[static_cast<size_t>(p / block_size)]) * block_size +
                  static_cast<size_t>(p % block_size)) *
                     kv_dim +
                 static_cast<size_t>(kv_head) * head_size;
        };
        std::vector<double> w(static_cast<size_t>(pos) + 1);
        double max = -INFINITY, sum = 0.0;
        for (int p = 0; p <= pos; ++p) {
          double s = 0.0;
          for (int i = 0; i < head_size; ++i)
            s += static_cast<double>(q[static_cast<size_t>(i)]) * k[slot(p) + i];
          w[static_cast<size_t>(p)] = s / std::sqrt(static_cast<double>(head_size));
          max = std::max(max, w[static_cast<size_t>(p)]);
        }
        for (auto& x : w) sum += (x = std::exp(x - max));
        for (int i = 0; i < head_size; ++i) {
          double want = 0.0;
          for (int p = 0; p <= pos; ++p) want += w[static_cast<size_t>(p)] / sum * v[slot(p) + i];
          ASSERT_NEAR(out[static_cast<size_t>(i)], want, 1e-5)
              << "value " << i << ", head size " << head_size << ", block size " << block_size;
        }
      }
    }
  });
}

// All heads of a token at once (grouped-query: two query heads per KV head) give each head the
// bits of attend() for it alone.
TEST(CpuAttend, HeadsTogetherGiveEachHeadsBitsAlone) {
  for_each_isa([] {
    std::mt19937 rng(29);
    for (const int head_size : {48, 20}) {
      const int heads = 6, kv_mul = 2, kv_dim = head_size * heads / kv_mul, block_size = 5;
      const int blocks = 8, pos = 33;
      const auto k = random_floats(rng, static_cast<size_t>(blocks) * block_size * kv_dim);
      const auto v = random_floats(rng, static_cast<size_t>(blocks) * block_size * kv_dim);
      const auto q = random_floats(rng, static_cast<size_t>(heads) * head_size);
      const int32_t table[] = {3, 7, 1, 0, 5, 2, 6, 4};
      const paged_kv kv{k.data(), v.data(), block_size, kv_dim};
      std::vector<float> together(q.size(), NAN), scores(static_cast<size_t>(heads) * (pos + 1));
      attend_heads(together.data(), q.data(), kv, table, pos, head_size, 0, heads, kv_mul,
                   scores.data());
      for (int h = 0; h < heads; ++h) {
        std::vector<float> alone(static_cast<size_t>(head_size), NAN);
        const size_t at = static_cast<size_t>(h) * head_size;
        attend(alone.data(), q.data() + at, kv, table, pos, head_size, h / kv_mul, scores.data());
        EXPECT_EQ(std::memcmp(alone.data(), together.data() + at, alone.size() * sizeof(float)), 0)
            << "head " << h << ", head size " << head_size;
        // Heads 2..5 only, as a task may get them.
        if (h < 2) continue;
        std::vector<float> part(static_cast<size_t>(heads - 2) * head_size, NAN);
        attend_heads(part.data(), q.data() + 2 * head_size, kv, table, pos, head_size, 2, heads - 2,
                     kv_mul, scores.data());
        EXPECT_EQ(std::memcmp(alone.data(), part.data() + at - 2 * head_size,
                              alone.size() * sizeof(float)),
                  0)
            << "head " << h << " from 2, head size " << head_size;
      }
    }
  });
}

// silu(a) * b (its e^x is the kernels' own, 8 at a time) within a few ulp of double precision,
// including where e^-a under- or overflows, and the same whatever the length (padded tails).
TEST(CpuSwiglu, MatchesDoublePrecision) {
  for_each_isa([] {
    std::mt19937 rng(23);
    std::vector<float> a = random_floats(rng, 203), b = random_floats(rng, 203);
    for (size_t i = 0; i < a.size(); ++i) a[i] *= 12.0f;
    const float edges[] = {0.0f,   -0.0f, 1e-8f,  -1e-8f, 80.0f,
                           -80.0f, 95.0f, -95.0f, 300.0f, -300.0f};
    for (size_t i = 0; i < std::size(edges); ++i) a[i * 7] = edges[i];
    std::vector<float> got = a;
    swiglu(got.data(), b.data(), static_cast<int>(got.size()));
    for (size_t i = 0; i < a.size(); ++i) {
      const double x = a[i];
      const double want = x / (1.0 + std::exp(-x)) * b[i];
      ASSERT_NEAR(got[i], want, 4e-7 * std::abs(want) + 1e-30) << "a = " << a[i];
      // Any prefix length gives the same values.
      std::vector<float> one = {a[i]};
      swiglu(one.data(), &b[i], 1);
      ASSERT_EQ(std::memcmp(&one[0], &got[i], sizeof(float)), 0) << "a = " << a[i];
    }
  });
}

int32_t scalar_argmax(const std::vector<float>& v) {
  int32_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  return best;
}

TEST(CpuArgmax, FirstIndexOfTheLargestAsAScalarScan) {
  for_each_isa([] {
    std::mt19937 rng(19);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int n : {1, 2, 7, 8, 9, 17, 100, 32000}) {
      auto v = random_floats(rng, static_cast<size_t>(n));
      EXPECT_EQ(argmax(v.data(), n), scalar_argmax(v)) << n;
      // Ties: the first wins.
      const size_t a = static_cast<size_t>(n) / 3, b = static_cast<size_t>(n) - 1;
      v[a] = v[b] = 2.0f;
      EXPECT_EQ(argmax(v.data(), n), scalar_argmax(v)) << n;
      // A NaN never wins; one in front wins against everything.
      v[b] = nan;
      EXPECT_EQ(argmax(v.data(), n), scalar_argmax(v)) << n;
      v[0] = nan;
      EXPECT_EQ(argmax(v.data(), n), 0) << n;
      // Signed zeros are equal: the first of them.
      std::vector<float> z(static_cast<size_t>(n), -1.0f);
      z[static_cast<size_t>(n) / 2] = -0.0f;
      z.back() = 0.0f;
      EXPECT_EQ(argmax(z.data(), n), scalar_argmax(z)) << n;
    }
  });
}

// Products at every tile size, argmax, attention over a paged cache and SwiGLU, as raw bits.
std::vector<float> kernel_outputs() {
  std::mt19937 rng(11);
  std::vector<float> all;
  thread_pool pool(2, std::chrono::microseconds(0));
  for (const auto& [in_dim, out_dim] : {std::pair{288, 296}, std::pair{77, 51}}) {
    const matrix m(rng, in_dim, out_dim);
    for (int rows : {1, 3, 4, 6, 7, 8, 16, 35}) {
      const auto x = random_floats(rng, static_cast<size_t>(rows) * in_dim);
      std::vector<float> out(static_cast<size_t>(rows) * out_dim);
      matmul(out.data(), x.data(), m.view(), rows, pool);
      all.insert(all.end(), out.begin(), out.end());
      for (int r = 0; r < rows; ++r)
        all.push_back(static_cast<float>(argmax(&out[static_cast<size_t>(r) * out_dim], out_dim)));
    }
  }
  for (const int head_size : {48, 20}) {
    const int kv_dim = 2 * head_size, block_size = 4, pos = 13;
    const auto k = random_floats(rng, static_cast<size_t>(8) * block_size * kv_dim);
    const auto v = random_floats(rng, static_cast<size_t>(8) * block_size * kv_dim);
    const auto q = random_floats(rng, static_cast<size_t>(head_size));
    const int32_t table[] = {5, 2, 7, 0};
    std::vector<float> out(static_cast<size_t>(head_size)), scores(pos + 1);
    attend(out.data(), q.data(), paged_kv{k.data(), v.data(), block_size, kv_dim}, table, pos,
           head_size, 1, scores.data());
    all.insert(all.end(), out.begin(), out.end());
  }
  auto a = random_floats(rng, 101);
  const auto b = random_floats(rng, 101);
  for (auto& x : a) x *= 20.0f;
  swiglu(a.data(), b.data(), static_cast<int>(a.size()));
  all.insert(all.end(), a.begin(), a.end());
  return all;
}

TEST(CpuKernels, AvxBuildsGiveTheSameBits) {
  std::vector<std::string> fast;
  for (const auto& isa : kernel_isas())
    if (isa != "baseline") fast.push_back(isa);
  if (fast.size() < 2) GTEST_SKIP() << "this CPU runs one vector build (" << kernel_isa() << ")";
  const std::string before = kernel_isa();
  ASSERT_TRUE(use_kernel_isa(fast[0]));
  const auto want = kernel_outputs();
  for (size_t i = 1; i < fast.size(); ++i) {
    ASSERT_TRUE(use_kernel_isa(fast[i]));
    const auto got = kernel_outputs();
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
        << fast[i] << " against " << fast[0];
  }
  ASSERT_TRUE(use_kernel_isa(before));
  EXPECT_FALSE(use_kernel_isa("no-such-isa"));
  EXPECT_EQ(before, kernel_isa());
}

}  // namespace
}  // namespace spillway::engine::reference
