// Each CUDA kernel against its CPU reference (reference/cpu_ops) on random inputs, by relative
// error, with the output poisoned (NaN) before the launch. Label `gpu`; skipped without a device.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "upstream-engine/cuda/cuda_backend.hpp"
#include "upstream-engine/kernels/kernels.hpp"
#include "upstream-engine/reference/cpu_ops.hpp"

namespace spillway::engine::test {
namespace {

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr

template <class T>
class device_array {
 public:
  explicit device_array(size_t n) : n_(n) {
    if (cudaMalloc(reinterpret_cast<void**>(&p_), std::max<size_t>(1, n) * sizeof(T)) !=
        cudaSuccess)
      p_ = nullptr;
  }
  explicit device_array(const std::vector<T>& v) : device_array(v.size()) {
    if (p_ && !v.empty()) cudaMemcpy(p_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  ~device_array() {
    if (p_) cudaFree(p_);
  }
  device_array(const device_array&) = delete;
  device_array& operator=(const device_array&) = delete;
  T* get() const { return p_; }
  void poison() { cudaMemset(p_, 0xFF, n_ * sizeof(T)); }  // NaN for floats, -1 for ints
  std::vector<T> read() const {
    std::vector<T> v(n_);
    cudaMemcpy(v.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost);
    return v;
  }

 private:
  T* p_ = nullptr;
  size_t n_;
};

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double err = 0.0, scale = 1e-30;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;  // a poisoned value survived
    err = std::max(err, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  return err / scale;
}

// Needs the toolkit's libraries, not a device.
TEST(CudaLibraries, CublasLoadsAtRunTime) {
  std::string error;
  EXPECT_TRUE(cuda::cublas_loadable(error)) << error;
}

class CudaKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_F(CudaKernels, Embedding) {
  const int vocab = 100, dim = 72, n = 9;
  const auto table = random_floats(static_cast<size_t>(vocab) * dim, 1);
  const std::vector<int32_t> tokens = {5, 0, 99, 5, 17, 42, 3, 88, 1};
  device_array<float> d_table(table), out(static_cast<size_t>(n) * dim);
  device_array<int32_t> d_tokens(tokens);
  out.poison();
  CUDA_OK(kernels::embedding(out.get(), d_table.get(), d_tokens.get(), n, dim, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<float> want;
  for (int32_t t : tokens)
    want.insert(want.end(), table.begin() + t * dim, table.begin() + (t + 1) * dim);
  EXPECT_EQ(out.read(), want);
}

TEST_F(CudaKernels, RmsNormWithAndWithoutRowGather) {
  const int dim = 288, n = 7;
  const auto x = random_floats(static_cast<size_t>(n) * dim, 2, 3.0f);
  const auto w = random_floats(dim, 3);
  device_array<float> dx(x), dw(w), out(static_cast<size_t>(n) * dim);
  out.poison();
  CUDA_OK(kernels::rmsnorm(out.get(), dx.get(), nullptr, n, dw.get(), dim, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<float> want(x.size());
  for (int r = 0; r < n; ++r) reference::rmsnorm(&want[r * dim], &x[r * dim], w.data(), dim);
  EXPECT_LT(rel_error(out.read(), want), 1e-5);

  const std::vector<int32_t> rows = {6, 2};
  device_array<int32_t> drows(rows);
  device_array<float> gathered(2 * dim);
  gathered.poison();
  CUDA_OK(kernels::rmsnorm(gathered.get(), dx.get(), drows.get(), 2, dw.get(), dim, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<float> want_rows(want.begin() + 6 * dim, want.begin() + 7 * dim);
  want_rows.insert(want_rows.end(), want.begin() + 2 * dim, want.begin() + 3 * dim);
  EXPECT_LT(rel_error(gathered.read(), want_rows), 1e-5);
}

TEST_F(CudaKernels, Rope) {
  const int head = 16, heads = 4, kv_heads = 2, dim = head * heads, kvd = head * kv_heads, n = 5,
            seq_len = 64;
  std::vector<float> table(static_cast<size_t>(seq_len) * head);
  for (int p = 0; p < seq_len; ++p)
    for (int k = 0; k < head / 2; ++k) {
      const double f = 1.0 / std::pow(10000.0, 2.0 * k / head);
      table[p * head + k] = static_cast<float>(std::cos(p * f));
      table[p * head + head / 2 + k] = static_cast<float>(std::sin(p * f));
    }
  const std::vector<int32_t> pos = {0, 1, 17, 63, 40};
  auto q = random_floats(static_cast<size_t>(n) * dim, 4),
       k = random_floats(static_cast<size_t>(n) * kvd, 5);
  device_array<float> dq(q), dk(k), dt(table);
  device_array<int32_t> dpos(pos);
  CUDA_OK(kernels::rope(dq.get(), dk.get(), dpos.get(), dt.get(), n, dim, kvd, head, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  for (int t = 0; t < n; ++t) {
    reference::rope(&q[t * dim], dim, head, &table[pos[t] * head]);
    reference::rope(&k[t * kvd], kvd, head, &table[pos[t] * head]);
  }
  EXPECT_LT(rel_error(dq.read(), q), 1e-6);
  EXPECT_LT(rel_error(dk.read(), k), 1e-6);
}

TEST_F(CudaKernels, KvStoreWritesOnlyItsSlots) {
  const int kvd = 32, slots_total = 40, n = 6;
  const auto k = random_floats(static_cast<size_t>(n) * kvd, 6),
             v = random_floats(static_cast<size_t>(n) * kvd, 7);
  const std::vector<int32_t> slots = {3, 39, 0, 17, 18, 4};
  const std::vector<float> background(static_cast<size_t>(slots_total) * kvd, 0.5f);
  device_array<float> kc(background), vc(background), dk(k), dv(v);
  device_array<int32_t> ds(slots);
  CUDA_OK(kernels::kv_store(kc.get(), vc.get(), dk.get(), dv.get(), ds.get(), n, kvd, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<float> want_k = background, want_v = background;
  for (int t = 0; t < n; ++t)
    for (int i = 0; i < kvd; ++i) {
      want_k[slots[t] * kvd + i] = k[t * kvd + i];
      want_v[slots[t] * kvd + i] = v[t * kvd + i];
    }
  EXPECT_EQ(kc.read(), want_k);
  EXPECT_EQ(vc.read(), want_v);
}

TEST_F(CudaKernels, PagedAttentionWithGroupedHeadsAndShuffledBlocks) {
  const int head = 48, heads = 6, kv_heads = 3, dim = head * heads, kvd = head * kv_heads, bs = 16,
            blocks = 64;
  const auto kc = random_floats(static_cast<size_t>(blocks) * bs * kvd, 8);
  const auto vc = random_floats(static_cast<size_t>(blocks) * bs * kvd, 9);
  std::vector<int32_t> ids(blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(10));
  // Two sequences: tables of 40 and 24 blocks.
  std::vector<int32_t> table(ids.begin(), ids.begin() + 64);
  const std::vector<int32_t> offsets = {0, 40};
  const std::vector<int32_t> seq = {0, 0, 1, 1, 0};
  const std::vector<int32_t> pos = {0, 639, 5, 383, 300};
  const int n = static_cast<int>(seq.size());
  const auto q = random_floats(static_cast<size_t>(n) * dim, 11, 2.0f);
  device_array<float> dq(q), dk(kc), dv(vc), out(static_cast<size_t>(n) * dim);
  device_array<int32_t> dtable(table), doff(offsets), dseq(seq), dpos(pos);
  out.poison();
  const kernels::attention_shape shape{n, heads, kv_heads, head, bs, 640};
  CUDA_OK(kernels::paged_attention(out.get(), dq.get(), dk.get(), dv.get(), dtable.get(),
                                   doff.get(), dseq.get(), dpos.get(), shape, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<float> want(static_cast<size_t>(n) * dim), scores(640);
  const reference::paged_kv view{kc.data(), vc.data(), bs, kvd};
  for (int t = 0; t < n; ++t)
    for (int h = 0; h < heads; ++h)
      reference::attend(&want[t * dim + h * head], &q[t * dim + h * head], view,
                        &table[offsets[seq[t]]], pos[t], head, h / (heads / kv_heads),
                        scores.data());
  EXPECT_LT(rel_error(out.read(), want), 1e-4);
}

TEST_F(CudaKernels, SwiGlu) {
  const size_t n = 1000;
  auto a = random_floats(n, 12, 6.0f);
  const auto b = random_floats(n, 13);
  device_array<float> da(a), db(b);
  CUDA_OK(kernels::swiglu(da.get(), db.get(), n, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  reference::swiglu(a.data(), b.data(), static_cast<int>(n));
  EXPECT_LT(rel_error(da.read(), a), 1e-5);
}

TEST_F(CudaKernels, ArgmaxTakesTheFirstOfEqualMaxima) {
  const int rows = 4, vocab = 32000;
  auto logits = random_floats(static_cast<size_t>(rows) * vocab, 14);
  logits[1 * vocab + 31999] = 5.0f;
  logits[2 * vocab + 100] = 7.0f;  // tie: the lower index wins
  logits[2 * vocab + 20000] = 7.0f;
  device_array<float> dl(logits);
  device_array<int32_t> out(rows);
  out.poison();
  CUDA_OK(kernels::argmax(out.get(), dl.get(), rows, vocab, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<int32_t> want;
  for (int r = 0; r < rows; ++r) want.push_back(reference::argmax(&logits[r * vocab], vocab));
  EXPECT_EQ(want[1], 31999);
  EXPECT_EQ(want[2], 100);
  EXPECT_EQ(out.read(), want);
}

}  // namespace
}  // namespace spillway::engine::test
