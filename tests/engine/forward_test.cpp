// The CPU backend's forward pass against the double-precision reference on the tiny preset:
// prefill chunks, single decode steps and two interleaved sequences on shuffled paged blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "tests/engine/reference_model.hpp"
#include "tests/engine/test_model.hpp"
#include "upstream-engine/reference/cpu_backend.hpp"

namespace spillway::engine::test {
namespace {

using runtime::batch_input;

// Relative error of `got` against `want`, scaled by the largest reference magnitude.
double rel_error(const float* got, const std::vector<double>& want) {
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / scale;
}

struct seq_state {
  std::vector<int32_t> tokens;
  std::vector<int32_t> blocks;
  reference_model ref;
  int done = 0;
};

TEST(CpuForward, MatchesDoubleReferenceAcrossChunksAndSequences) {
  const model_files& m = test_model("tiny");
  const auto& cfg = m.ck.config();
  const int block_size = 4, num_blocks = 64;
  reference::cpu_backend be(m.ck, {num_blocks, block_size}, 3, std::chrono::microseconds(0));

  // Two sequences on interleaved, shuffled blocks.
  std::vector<int32_t> ids(num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(11));
  std::mt19937 rng(5);
  std::vector<seq_state> seqs;
  for (int s = 0; s < 2; ++s) {
    seq_state st{{}, {}, reference_model(m.ck)};
    for (int i = 0; i < 24; ++i) st.tokens.push_back(static_cast<int32_t>(rng() % cfg.vocab_size));
    for (int b = 0; b < 8; ++b) st.blocks.push_back(ids[static_cast<size_t>(b * 2 + s)]);
    seqs.push_back(std::move(st));
  }
  // Steps: (tokens for seq 0, tokens for seq 1); logits requested for every token.
  const std::vector<std::pair<int, int>> steps = {{9, 0}, {1, 6}, {5, 1}, {1, 7}, {1, 1}, {7, 9}};
  for (const auto& [n0, n1] : steps) {
    batch_input in;
    const int counts[2] = {n0, n1};
    std::vector<std::pair<int, int>> row_owner;  // (seq, pos) per logit row
    for (int s = 0; s < 2; ++s) {
      if (counts[s] == 0) continue;
      const int32_t slot = static_cast<int32_t>(in.table_offset.size());
      in.table_offset.push_back(static_cast<int32_t>(in.block_table.size()));
      in.block_table.insert(in.block_table.end(), seqs[s].blocks.begin(), seqs[s].blocks.end());
      for (int i = 0; i < counts[s]; ++i) {
        const int p = seqs[s].done + i;
        in.tokens.push_back(seqs[s].tokens[p]);
        in.pos.push_back(p);
        in.seq.push_back(slot);
        in.logit_rows.push_back(static_cast<int32_t>(in.tokens.size() - 1));
        in.want_logits.push_back(1);
        row_owner.emplace_back(s, p);
      }
    }
    std::vector<float> logits(in.logit_rows.size() * cfg.vocab_size, NAN);
    std::vector<int32_t> argmax(in.logit_rows.size(), -1);
    ASSERT_EQ(be.forward(in, logits, argmax), "");
    for (size_t r = 0; r < row_owner.size(); ++r) {
      const auto [s, p] = row_owner[r];
      const std::vector<double> want = seqs[s].ref.forward(seqs[s].tokens[p], p);
      const float* got = &logits[r * cfg.vocab_size];
      EXPECT_LT(rel_error(got, want), 1e-4) << "seq " << s << " pos " << p;
      const auto best = std::max_element(want.begin(), want.end()) - want.begin();
      // The greedy token agrees unless the reference itself has a near tie.
      std::vector<double> sorted = want;
      std::nth_element(sorted.begin(), sorted.begin() + 1, sorted.end(), std::greater<>());
      if (sorted[0] - sorted[1] > 1e-3) {
        EXPECT_EQ(argmax[r], best) << "seq " << s << " pos " << p;
      }
    }
    seqs[0].done += n0;
    seqs[1].done += n1;
  }
}

TEST(CpuForward, RejectsMalformedBatches) {
  const model_files& m = test_model("tiny");
  reference::cpu_backend be(m.ck, {8, 4}, 1);
  batch_input in;
  in.tokens = {5};
  in.pos = {0};
  in.seq = {0};
  in.table_offset = {0};
  in.block_table = {99};  // out of range
  in.logit_rows = {0};
  in.want_logits = {1};
  std::vector<float> logits(m.ck.config().vocab_size);
  std::vector<int32_t> argmax(1);
  EXPECT_NE(be.forward(in, logits, argmax), "");
  in.block_table = {1};
  in.pos = {4};  // needs a second block
  EXPECT_NE(be.forward(in, logits, argmax), "");
  in.pos = {0};
  in.tokens = {m.ck.config().vocab_size};
  EXPECT_NE(be.forward(in, logits, argmax), "");
  in.tokens = {5};
  EXPECT_EQ(be.forward(in, logits, argmax), "");
}

TEST(CpuForward, ThreadCountDoesNotChangeResults) {
  const model_files& m = test_model("tiny");
  const int vocab = m.ck.config().vocab_size;
  batch_input in;
  for (int i = 0; i < 11; ++i) {
    in.tokens.push_back(static_cast<int32_t>((i * 37 + 3) % vocab));
    in.pos.push_back(i);
    in.seq.push_back(0);
    in.logit_rows.push_back(i);
    in.want_logits.push_back(1);
  }
  in.table_offset = {0};
  in.block_table = {3, 0, 2};
  std::vector<float> a(11 * vocab), b(11 * vocab);
  std::vector<int32_t> am(11), bm(11);
  // No spinning: the pool then always hands off, whatever the machine's load.
  reference::cpu_backend one(m.ck, {4, 4}, 1), three(m.ck, {4, 4}, 3, std::chrono::microseconds(0));
  ASSERT_EQ(one.forward(in, a, am), "");
  ASSERT_EQ(three.forward(in, b, bm), "");
  EXPECT_EQ(a, b);
  EXPECT_EQ(am, bm);
}

}  // namespace
}  // namespace spillway::engine::test
