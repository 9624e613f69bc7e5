// The CPU backend's copy of the weights: the arrays read by index hold the checkpoint's values,
// every matrix of every layer (and the classifier, shared or not) is the checkpoint's matrix
// packed, each array starts on a 64-byte line, and all lie outside the file mapping.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/engine/test_model.hpp"
#include "upstream-engine/reference/packed_weights.hpp"

namespace spillway::engine::test {
namespace {

bool on_line(const float* p) {
  return reinterpret_cast<uintptr_t>(p) % 64 == 0;
}

TEST(PackedWeights, CopyHoldsEveryArrayPacked) {
  for (const char* preset : {"tiny", "small"}) {
    SCOPED_TRACE(preset);
    const model_files& m = test_model(preset);
    const auto& c = m.ck.config();
    const model::weights_view& w = m.ck.weights();
    const reference::packed_weights pw(w, c);
    const size_t d = static_cast<size_t>(c.dim), l = static_cast<size_t>(c.n_layers);
    const size_t vocab = static_cast<size_t>(c.vocab_size);
    const struct {
      const float* got;
      const float* want;
      size_t floats;
    } plain[] = {{pw.token_embedding, w.token_embedding, vocab * d},
                 {pw.rms_att, w.rms_att, l * d},
                 {pw.rms_ffn, w.rms_ffn, l * d},
                 {pw.rms_final, w.rms_final, d}};
    for (size_t i = 0; i < std::size(plain); ++i) {
      EXPECT_NE(plain[i].got, plain[i].want) << "array " << i;
      EXPECT_TRUE(on_line(plain[i].got)) << "array " << i;
      EXPECT_EQ(std::memcmp(plain[i].got, plain[i].want, plain[i].floats * sizeof(float)), 0)
          << "array " << i;
    }
    const int dim = c.dim, kvd = c.kv_dim(), hid = c.hidden_dim;
    const struct {
      const char* name;
      const reference::packed_layers& got;
      const float* want;
      int in_dim, out_dim;
    } matrices[] = {{"wq", pw.wq, w.wq, dim, dim}, {"wk", pw.wk, w.wk, dim, kvd},
                    {"wv", pw.wv, w.wv, dim, kvd}, {"wo", pw.wo, w.wo, dim, dim},
                    {"w1", pw.w1, w.w1, dim, hid}, {"w2", pw.w2, w.w2, hid, dim},
                    {"w3", pw.w3, w.w3, dim, hid}};
    for (const auto& mx : matrices) {
      ASSERT_EQ(mx.got.in_dim, mx.in_dim) << mx.name;
      ASSERT_EQ(mx.got.out_dim, mx.out_dim) << mx.name;
      const size_t n = reference::packed_floats(mx.in_dim, mx.out_dim);
      std::vector<float> want(n);
      for (int layer = 0; layer < c.n_layers; ++layer) {
        const reference::packed_matrix got = mx.got.layer(layer);
        EXPECT_TRUE(on_line(got.data)) << mx.name << " layer " << layer;
        reference::pack_matrix(want.data(),
                               mx.want + static_cast<size_t>(layer) * mx.out_dim * mx.in_dim,
                               mx.in_dim, mx.out_dim);
        EXPECT_EQ(std::memcmp(got.data, want.data(), n * sizeof(float)), 0)
            << mx.name << " layer " << layer;
      }
    }
    // The classifier is packed from wcls, which is the embedding table when shared.
    EXPECT_EQ(w.wcls == w.token_embedding, c.shared_classifier);
    ASSERT_EQ(pw.wcls.in_dim, dim);
    ASSERT_EQ(pw.wcls.out_dim, c.vocab_size);
    EXPECT_TRUE(on_line(pw.wcls.data));
    std::vector<float> want(reference::packed_floats(dim, c.vocab_size));
    reference::pack_matrix(want.data(), w.wcls, dim, c.vocab_size);
    EXPECT_EQ(std::memcmp(pw.wcls.data, want.data(), want.size() * sizeof(float)), 0);
    EXPECT_GT(pw.bytes(), want.size() * sizeof(float));
  }
}

}  // namespace
}  // namespace spillway::engine::test
