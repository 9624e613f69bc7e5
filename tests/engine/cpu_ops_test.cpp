// The CPU matrix product: every output element is the same sum whatever the batch size, tile
// path (groups of four rows, single rows), thread count or split, and it matches a
// double-precision product.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
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

TEST(CpuMatmul, EveryRowIsBitIdenticalToItsSingleRowProduct) {
  std::mt19937 rng(7);
  // in_dim with a tail that is not a multiple of 8; out_dim not a multiple of 8 or 16.
  for (const auto& [in_dim, out_dim] :
       {std::pair{288, 296}, std::pair{77, 51}, std::pair{768, 1000}}) {
    const auto w = random_floats(rng, static_cast<size_t>(in_dim) * out_dim);
    for (int threads : {1, 3}) {
      thread_pool pool(threads);
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

}  // namespace
}  // namespace spillway::engine::reference
