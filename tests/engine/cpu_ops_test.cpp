// The CPU matrix product: every output element is the same sum whatever the batch size, tile
// path (groups of four rows, single rows), thread count or split, and it matches a
// double-precision product, with each kernel build this CPU runs. The AVX-512 and AVX2 builds
// give the same bits.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
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

void expect_rows_match_single_row_products() {
  std::mt19937 rng(7);
  // in_dim with a tail that is not a multiple of 8; out_dim not a multiple of 8 or 16.
  for (const auto& [in_dim, out_dim] :
       {std::pair{288, 296}, std::pair{77, 51}, std::pair{768, 1000}}) {
    const auto w = random_floats(rng, static_cast<size_t>(in_dim) * out_dim);
    for (int threads : {1, 3}) {
      thread_pool pool(threads, std::chrono::microseconds(0));  // always hands off
      for (int rows : {1, 3, 4, 5, 9, 33, 70}) {
        const auto x = random_floats(rng, static_cast<size_t>(rows) * in_dim);
        std::vector<float> batched(static_cast<size_t>(rows) * out_dim, NAN);
        matmul(batched.data(), x.data(), w.data(), rows, in_dim, out_dim, pool);
        for (int b = 0; b < rows; ++b) {
          std::vector<float> single(static_cast<size_t>(out_dim), NAN);
          thread_pool one(1);
          matmul(single.data(), x.data() + static_cast<size_t>(b) * in_dim, w.data(), 1, in_dim,
                 out_dim, one);
          ASSERT_EQ(std::memcmp(single.data(), batched.data() + static_cast<size_t>(b) * out_dim,
                                single.size() * sizeof(float)),
                    0)
              << "row " << b << " of " << rows << ", " << in_dim << "x" << out_dim << ", "
              << threads << " threads";
          if (b != rows - 1) continue;  // the double-precision check once per batch
          for (int i = 0; i < out_dim; ++i) {
            double ref = 0.0;
            for (int j = 0; j < in_dim; ++j)
              ref += static_cast<double>(w[static_cast<size_t>(i) * in_dim + j]) *
                     x[static_cast<size_t>(b) * in_dim + j];
            ASSERT_NEAR(single[static_cast<size_t>(i)], ref, 1e-4 * in_dim)
                << "element " << i << " of row " << b;
          }
        }
      }
    }
  }
}

TEST(CpuMatmul, EveryRowIsBitIdenticalToItsSingleRowProduct) {
  const std::string before = kernel_isa();
  for (const auto& isa : kernel_isas()) {
    SCOPED_TRACE(isa);
    ASSERT_TRUE(use_kernel_isa(isa));
    expect_rows_match_single_row_products();
  }
  ASSERT_TRUE(use_kernel_isa(before));
}

TEST(CpuMatmul, SeveralMatricesInOneHandOffGiveTheSameBits) {
  std::mt19937 rng(5);
  const int in_dim = 77;
  const int dims[] = {51, 296, 7};
  std::vector<std::vector<float>> ws;
  for (int d : dims) ws.push_back(random_floats(rng, static_cast<size_t>(d) * in_dim));
  thread_pool pool(3, std::chrono::microseconds(0)), one(1);
  for (int rows : {1, 5, 16}) {
    const auto x = random_floats(rng, static_cast<size_t>(rows) * in_dim);
    std::vector<std::vector<float>> together(3), apart(3);
    std::vector<matmul_part> parts;
    for (int p = 0; p < 3; ++p) {
      together[p].assign(static_cast<size_t>(rows) * dims[p], NAN);
      apart[p].assign(static_cast<size_t>(rows) * dims[p], NAN);
      parts.push_back({together[p].data(), ws[p].data(), dims[p]});
      matmul(apart[p].data(), x.data(), ws[p].data(), rows, in_dim, dims[p], one);
    }
    matmul_many(parts, x.data(), rows, in_dim, pool);
    for (int p = 0; p < 3; ++p)
      EXPECT_EQ(std::memcmp(together[p].data(), apart[p].data(), apart[p].size() * sizeof(float)),
                0)
          << "part " << p << ", " << rows << " rows";
  }
}

// Products at every tile path plus attention over a paged cache, as raw bits.
std::vector<float> kernel_outputs() {
  std::mt19937 rng(11);
  std::vector<float> all;
  thread_pool pool(2, std::chrono::microseconds(0));
  for (const auto& [in_dim, out_dim] : {std::pair{288, 296}, std::pair{77, 51}}) {
    const auto w = random_floats(rng, static_cast<size_t>(in_dim) * out_dim);
    for (int rows : {1, 3, 4, 16, 35}) {
      const auto x = random_floats(rng, static_cast<size_t>(rows) * in_dim);
      std::vector<float> out(static_cast<size_t>(rows) * out_dim);
      matmul(out.data(), x.data(), w.data(), rows, in_dim, out_dim, pool);
      all.insert(all.end(), out.begin(), out.end());
    }
  }
  const int head_size = 48, kv_dim = 96, block_size = 4, pos = 13;
  const auto k = random_floats(rng, 8 * block_size * kv_dim);
  const auto v = random_floats(rng, 8 * block_size * kv_dim);
  const auto q = random_floats(rng, head_size);
  const int32_t table[] = {5, 2, 7, 0};
  std::vector<float> out(head_size), scores(pos + 1);
  attend(out.data(), q.data(), paged_kv{k.data(), v.data(), block_size, kv_dim}, table, pos,
         head_size, 1, scores.data());
  all.insert(all.end(), out.begin(), out.end());
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
