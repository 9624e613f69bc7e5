// The CUDA backend against the CPU backend on the tiny model: logits of mixed prefill/decode
// batches on paged blocks, and greedy tokens through the whole runtime. Label `gpu`.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/engine/engine_harness.hpp"
#include "upstream-engine/cuda/cuda_backend.hpp"

namespace spillway::engine::test {
namespace {

class CudaBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};

runtime::batch_input two_sequences(int vocab) {
  runtime::batch_input in;
  in.table_offset = {0, 4};
  in.block_table = {9, 2, 30, 7, 11, 4, 1, 0};
  for (int s = 0; s < 2; ++s)
    for (int p = 0; p < (s == 0 ? 13 : 6); ++p) {
      in.tokens.push_back((p * 31 + s * 7 + 5) % vocab);
      in.pos.push_back(p);
      in.seq.push_back(s);
      in.logit_rows.push_back(static_cast<int32_t>(in.tokens.size() - 1));
      in.want_logits.push_back(1);
    }
  return in;
}

TEST_F(CudaBackend, LogitsMatchTheCpuBackend) {
  const model_files& m = test_model("tiny");
  const int vocab = m.ck.config().vocab_size;
  std::string error;
  auto gpu = cuda::make_cuda_backend(m.ck, {32, 4}, error);
  ASSERT_TRUE(gpu) << error;
  reference::cpu_backend cpu(m.ck, {32, 4}, 2);
  const runtime::batch_input in = two_sequences(vocab);
  const size_t rows = in.logit_rows.size();
  std::vector<float> a(rows * vocab), b(rows * vocab, NAN);
  std::vector<int32_t> am(rows), bm(rows, -1);
  ASSERT_EQ(cpu.forward(in, a, am), "");
  ASSERT_EQ(gpu->forward(in, b, bm), "");
  double err = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(std::isfinite(b[i]));
    err = std::max(err, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(a[i])));
  }
  EXPECT_LT(err / scale, 1e-4);
  EXPECT_EQ(am, bm);
}

TEST_F(CudaBackend, GreedyTokensMatchTheCpuRuntime) {
  const model_files& m = test_model("tiny");
  const std::vector<std::vector<int32_t>> prompts = {prompt_of(3, 1), prompt_of(17, 2),
                                                     prompt_of(40, 3)};
  const auto cpu = run_all({}, prompts, greedy(16));
  runtime::engine_config c;
  c.max_batch = 8;
  runtime::engine eng(c);
  std::string error;
  auto gpu = cuda::make_cuda_backend(m.ck, {256, 4}, error);
  ASSERT_TRUE(gpu) << error;
  eng.start(std::move(gpu), m.tok);
  collector col;
  for (size_t i = 0; i < prompts.size(); ++i) eng.submit(prompts[i], greedy(16), col.sink(i));
  ASSERT_TRUE(col.wait());
  const auto got = col.results();
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(got[i].tokens, cpu[i].tokens) << "prompt " << i;
}

}  // namespace
}  // namespace spillway::engine::test
