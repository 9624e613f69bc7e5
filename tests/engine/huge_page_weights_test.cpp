// The CPU backend's copy of the weights: every array holds the checkpoint's values, at the same
// offsets from each other, outside the file mapping; an empty view is passed through.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/engine/test_model.hpp"
#include "upstream-engine/reference/huge_page_weights.hpp"

namespace spillway::engine::test {
namespace {

TEST(HugePageWeights, CopyHoldsEveryArray) {
  for (const char* preset : {"tiny", "small"}) {
    const model_files& m = test_model(preset);
    const auto& c = m.ck.config();
    const model::weights_view& w = m.ck.weights();
    reference::huge_page_weights copy(w, c.weight_floats());
    ASSERT_TRUE(copy.copied()) << preset;
    const model::weights_view& v = copy.view();
    const size_t d = static_cast<size_t>(c.dim), l = static_cast<size_t>(c.n_layers);
    const size_t kv = static_cast<size_t>(c.kv_dim()), h = static_cast<size_t>(c.hidden_dim);
    const size_t vocab = static_cast<size_t>(c.vocab_size);
    const struct {
      const float* got;
      const float* want;
      size_t floats;
    } arrays[] = {{v.token_embedding, w.token_embedding, vocab * d},
                  {v.rms_att, w.rms_att, l * d},
                  {v.wq, w.wq, l * d * d},
                  {v.wk, w.wk, l * kv * d},
                  {v.wv, w.wv, l * kv * d},
                  {v.wo, w.wo, l * d * d},
                  {v.rms_ffn, w.rms_ffn, l * d},
                  {v.w1, w.w1, l * h * d},
                  {v.w2, w.w2, l * d * h},
                  {v.w3, w.w3, l * h * d},
                  {v.rms_final, w.rms_final, d},
                  {v.wcls, w.wcls, vocab * d}};
    for (size_t i = 0; i < std::size(arrays); ++i) {
      EXPECT_NE(arrays[i].got, arrays[i].want) << preset << " array " << i;
      EXPECT_EQ(std::memcmp(arrays[i].got, arrays[i].want, arrays[i].floats * sizeof(float)), 0)
          << preset << " array " << i;
      EXPECT_EQ(arrays[i].got - v.token_embedding, arrays[i].want - w.token_embedding);
    }
    EXPECT_EQ(v.wcls == v.token_embedding, c.shared_classifier) << preset;
  }
}

TEST(HugePageWeights, EmptyViewIsPassedThrough) {
  const model::weights_view none;
  reference::huge_page_weights copy(none, 0);
  EXPECT_FALSE(copy.copied());
  EXPECT_EQ(copy.view().wq, nullptr);
}

}  // namespace
}  // namespace spillway::engine::test
