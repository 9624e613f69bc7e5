// Decode steps replayed from CUDA graphs against the same steps run kernel by kernel (a backend
// with --cuda-graphs off): the same greedy tokens and the same logits bit for bit (same kernels,
// same cuBLAS calls), at batch sizes 1, 3 and 8, with the batch changing size and members
// between steps, across KV block boundaries, and beyond the sizes graphs cover. Each test also
// checks that graphs were captured and replayed, so a silent fallback cannot pass it.
// Label `gpu`; skipped without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "tests/engine/engine_harness.hpp"
#include "upstream-engine/cuda/cuda_backend.hpp"

namespace spillway::engine::test {
namespace {

class CudaGraphs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};

/// Sequences driven step by step on one backend, the way the scheduler batches them: a prompt
/// step each, then decode steps over any subset, each feeding back its greedy token. Blocks come
/// from a seeded shuffle of the cache, so tables are scattered and two drivers agree.
class driver {
 public:
  driver(runtime::backend& be, int num_blocks) : be_(be) {
    free_.resize(static_cast<size_t>(num_blocks));
    std::iota(free_.begin(), free_.end(), 0);
    std::shuffle(free_.begin(), free_.end(), std::mt19937(7));
  }

  /// Runs a prompt (at least two tokens: a step with rows < tokens, never a graph).
  std::string prefill(const std::vector<int32_t>& prompt) {
    seqs_.push_back({prompt, {}});
    seq& s = seqs_.back();
    if (!grow(s)) return "out of blocks";
    runtime::batch_input in;
    in.table_offset = {0};
    in.block_table = s.blocks;
    for (size_t p = 0; p < prompt.size(); ++p) {
      in.tokens.push_back(prompt[p]);
      in.pos.push_back(static_cast<int32_t>(p));
      in.seq.push_back(0);
    }
    in.logit_rows = {static_cast<int32_t>(prompt.size() - 1)};
    in.want_logits = {1};
    std::vector<float> logits(vocab());
    std::vector<int32_t> argmax(1);
    if (std::string e = be_.forward(in, logits, argmax); !e.empty()) return e;
    s.tokens.push_back(argmax[0]);
    return {};
  }

  /// One decode step of sequences `which` (indices in prefill order); row r of `logits` (rows
  /// with want[r] set) and argmax[r] belong to which[r].
  std::string decode(const std::vector<int>& which, const std::vector<uint8_t>& want,
                     std::vector<float>& logits, std::vector<int32_t>& argmax) {
    runtime::batch_input in;
    for (size_t k = 0; k < which.size(); ++k) {
      seq& s = seqs_[static_cast<size_t>(which[k])];
      if (!grow(s)) return "out of blocks";
      in.table_offset.push_back(static_cast<int32_t>(in.block_table.size()));
      in.block_table.insert(in.block_table.end(), s.blocks.begin(), s.blocks.end());
      in.tokens.push_back(s.tokens.back());
      in.pos.push_back(static_cast<int32_t>(s.tokens.size() - 1));
      in.seq.push_back(static_cast<int32_t>(k));
      in.logit_rows.push_back(static_cast<int32_t>(k));
    }
    in.want_logits = want;
    logits.assign(which.size() * vocab(), NAN);
    argmax.assign(which.size(), -1);
    if (std::string e = be_.forward(in, logits, argmax); !e.empty()) return e;
    for (size_t k = 0; k < which.size(); ++k)
      seqs_[static_cast<size_t>(which[k])].tokens.push_back(argmax[k]);
    return {};
  }

  const std::vector<int32_t>& tokens(int s) const { return seqs_[static_cast<size_t>(s)].tokens; }
  size_t blocks(int s) const { return seqs_[static_cast<size_t>(s)].blocks.size(); }
  size_t vocab() const { return static_cast<size_t>(be_.config().vocab_size); }

 private:
  struct seq {
    std::vector<int32_t> tokens;  // the last one not yet in the cache
    std::vector<int32_t> blocks;
  };
  // Blocks for every position up to the last token's.
  bool grow(seq& s) {
    const size_t bs = static_cast<size_t>(be_.geometry().block_size);
    while (s.blocks.size() * bs < s.tokens.size()) {
      if (free_.empty()) return false;
      s.blocks.push_back(free_.back());
      free_.pop_back();
    }
    return true;
  }

  runtime::backend& be_;
  std::vector<int32_t> free_;
  std::vector<seq> seqs_;
};

/// Two backends on the tiny model, graphs on and off, with one driver each.
struct pair_of_backends {
  pair_of_backends(runtime::kv_geometry kv, int max_batch) {
    const model_files& m = test_model("tiny");
    std::string error;
    on = cuda::make_cuda_backend(m.ck, kv, error, {true, max_batch});
    EXPECT_TRUE(on) << error;
    off = cuda::make_cuda_backend(m.ck, kv, error, {false, max_batch});
    EXPECT_TRUE(off) << error;
    if (!on || !off) return;
    d_on = std::make_unique<driver>(*on, kv.num_blocks);
    d_off = std::make_unique<driver>(*off, kv.num_blocks);
  }
  bool ready() const { return d_on && d_off; }

  void prefill(const std::vector<int32_t>& prompt) {
    ASSERT_EQ(d_on->prefill(prompt), "");
    ASSERT_EQ(d_off->prefill(prompt), "");
  }
  /// One decode step on both; argmax and every wanted logit must be the same bits.
  void decode(const std::vector<int>& which, const std::vector<uint8_t>& want) {
    std::vector<float> la, lb;
    std::vector<int32_t> aa, ab;
    ASSERT_EQ(d_on->decode(which, want, la, aa), "");
    ASSERT_EQ(d_off->decode(which, want, lb, ab), "");
    ASSERT_EQ(aa, ab) << "step " << steps;
    const size_t vocab = d_on->vocab();
    for (size_t r = 0; r < which.size(); ++r) {
      if (want[r] == 0) continue;
      ASSERT_TRUE(std::isfinite(la[r * vocab])) << "step " << steps << " row " << r;
      ASSERT_EQ(std::memcmp(la.data() + r * vocab, lb.data() + r * vocab, vocab * sizeof(float)), 0)
          << "step " << steps << " row " << r << " (batch " << which.size() << ")";
    }
    ++steps;
  }
  void decode(const std::vector<int>& which) {
    decode(which, std::vector<uint8_t>(which.size(), 1));
  }

  std::unique_ptr<runtime::backend> on, off;
  std::unique_ptr<driver> d_on, d_off;
  int steps = 0;
};

std::vector<int> first(int n) {
  std::vector<int> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST_F(CudaGraphs, SameBitsAtBatchSizesOneThreeAndEight) {
  pair_of_backends b({128, 4}, 8);
  ASSERT_TRUE(b.ready());
  for (int s = 0; s < 8; ++s) b.prefill(prompt_of(2 + 3 * s, static_cast<uint32_t>(s + 1)));
  for (int n : {1, 3, 8})
    for (int step = 0; step < 6; ++step) b.decode(first(n));

  const cuda::graph_stats on = cuda::graph_stats_of(*b.on);
  EXPECT_TRUE(on.enabled) << on.failure;
  EXPECT_EQ(on.captured, 3);        // first step of a size uncaptured, second captures
  EXPECT_EQ(on.replayed, 3u * 5u);  // ... and replays from then on
  EXPECT_EQ(on.without, 3u);
  const cuda::graph_stats off = cuda::graph_stats_of(*b.off);
  EXPECT_FALSE(off.enabled);
  EXPECT_EQ(off.captured, 0);
  EXPECT_EQ(off.replayed, 0u);
  EXPECT_EQ(off.without, 18u);
}

TEST_F(CudaGraphs, SameBitsWhenTheBatchChangesBetweenSteps) {
  pair_of_backends b({160, 4}, 8);
  ASSERT_TRUE(b.ready());
  for (int s = 0; s < 8; ++s) b.prefill(prompt_of(3 + 5 * s, static_cast<uint32_t>(s + 11)));
  // Sizes change every step and each size comes back with other members; some rows want only
  // the argmax.
  std::mt19937 rng(3);
  const std::vector<int> sizes = {5, 8, 2, 7, 3, 6, 1};
  for (int round = 0; round < 3; ++round)
    for (int n : sizes) {
      std::vector<int> all = first(8);
      std::shuffle(all.begin(), all.end(), rng);
      std::vector<int> which(all.begin(), all.begin() + n);
      std::vector<uint8_t> want(which.size());
      for (size_t r = 0; r < want.size(); ++r)
        want[r] = static_cast<uint8_t>((r + static_cast<size_t>(round)) % 2);
      want[0] = 1;
      b.decode(which, want);
    }
  const cuda::graph_stats on = cuda::graph_stats_of(*b.on);
  EXPECT_TRUE(on.enabled) << on.failure;
  EXPECT_EQ(on.captured, static_cast<int>(sizes.size()));
  EXPECT_EQ(on.replayed, 2 * sizes.size());  // second round captures, both replay
  for (int s = 0; s < 8; ++s) EXPECT_EQ(b.d_on->tokens(s), b.d_off->tokens(s)) << "sequence " << s;
}

TEST_F(CudaGraphs, SameBitsAcrossKvBlockBoundaries) {
  // Blocks of 4: the two sequences cross into new, scattered blocks at different steps, all
  // while the step replays one graph.
  pair_of_backends b({64, 4}, 2);
  ASSERT_TRUE(b.ready());
  b.prefill(prompt_of(3, 21));
  b.prefill(prompt_of(6, 22));
  const size_t blocks_before = b.d_on->blocks(0) + b.d_on->blocks(1);
  for (int step = 0; step < 20; ++step) b.decode({0, 1});
  EXPECT_GE(b.d_on->blocks(0) + b.d_on->blocks(1), blocks_before + 9);
  const cuda::graph_stats on = cuda::graph_stats_of(*b.on);
  EXPECT_TRUE(on.enabled) << on.failure;
  EXPECT_EQ(on.captured, 1);
  EXPECT_EQ(on.replayed, 19u);
  EXPECT_EQ(b.d_on->tokens(0), b.d_off->tokens(0));
  EXPECT_EQ(b.d_on->tokens(1), b.d_off->tokens(1));
}

TEST_F(CudaGraphs, StepsBeyondMaxBatchRunWithoutAGraph) {
  pair_of_backends b({96, 4}, 2);
  ASSERT_TRUE(b.ready());
  for (int s = 0; s < 3; ++s) b.prefill(prompt_of(4 + s, static_cast<uint32_t>(s + 31)));
  for (int step = 0; step < 4; ++step) {
    b.decode({0, 1, 2});  // over the graphs' room: kernel by kernel
    b.decode({2, 0});
  }
  const cuda::graph_stats on = cuda::graph_stats_of(*b.on);
  EXPECT_TRUE(on.enabled) << on.failure;
  EXPECT_EQ(on.captured, 1);
  EXPECT_EQ(on.replayed, 3u);
  EXPECT_EQ(on.without, 4u + 1u);
}

TEST_F(CudaGraphs, GreedyTokensThroughTheEngineMatchTheCpuRuntime) {
  const model_files& m = test_model("tiny");
  const std::vector<std::vector<int32_t>> prompts = {prompt_of(2, 41), prompt_of(9, 42),
                                                     prompt_of(23, 43), prompt_of(5, 44)};
  const auto cpu = run_all({}, prompts, greedy(24));
  runtime::engine_config c;
  c.max_batch = 8;
  runtime::engine eng(c);
  std::string error;
  auto gpu = cuda::make_cuda_backend(m.ck, {256, 4}, error, {true, c.max_batch});
  ASSERT_TRUE(gpu) << error;
  eng.start(std::move(gpu), m.tok);
  collector col;
  for (size_t i = 0; i < prompts.size(); ++i) eng.submit(prompts[i], greedy(24), col.sink(i));
  ASSERT_TRUE(col.wait());
  const auto got = col.results();
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(got[i].tokens, cpu[i].tokens) << "prompt " << i;
}

}  // namespace
}  // namespace spillway::engine::test
