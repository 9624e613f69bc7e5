// Model files: presets, checkpoint validation, tokenizer format and BPE.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "common/random.hpp"
#include "tests/engine/test_model.hpp"

namespace spillway::engine::test {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

TEST(Presets, HaveTheTinyStoriesShapes) {
  const auto small = model::preset_config("small");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->dim, 288);
  EXPECT_EQ(small->hidden_dim, 768);
  EXPECT_EQ(small->n_layers, 6);
  EXPECT_EQ(small->n_heads, 6);
  EXPECT_EQ(small->vocab_size, 32000);
  EXPECT_EQ(small->seq_len, 256);
  EXPECT_GT(small->weight_floats(), 15'000'000u);
  EXPECT_LT(small->weight_floats(), 15'300'000u);
  const auto big = model::preset_config("110m");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->dim, 768);
  EXPECT_EQ(big->n_layers, 12);
  EXPECT_EQ(big->seq_len, 1024);
  EXPECT_GT(big->weight_floats(), 109'000'000u);
  EXPECT_LT(big->weight_floats(), 111'000'000u);
  EXPECT_FALSE(model::preset_config("huge"));
}

TEST(Checkpoint, LoadsWhatMakeModelWrites) {
  const model_files& m = test_model("tiny");
  const auto want = *model::preset_config("tiny");
  const auto& c = m.ck.config();
  EXPECT_EQ(c.dim, want.dim);
  EXPECT_EQ(c.n_kv_heads, want.n_kv_heads);
  EXPECT_EQ(c.vocab_size, want.vocab_size);
  EXPECT_FALSE(c.shared_classifier);
  EXPECT_NE(m.ck.weights().wcls, m.ck.weights().token_embedding);
  EXPECT_EQ(m.ck.file_bytes(), model::checkpoint_header_bytes + c.weight_floats() * 4);
  // Same seed, same bytes; another seed, other weights.
  const std::string again = m.dir + "/again.bin", other = m.dir + "/other.bin";
  std::string error;
  ASSERT_TRUE(model::write_checkpoint(want, 7, again, error));
  ASSERT_TRUE(model::write_checkpoint(want, 8, other, error));
  EXPECT_EQ(read_all(again), read_all(m.model_path));
  EXPECT_NE(read_all(other), read_all(m.model_path));
}

TEST(Checkpoint, RejectsBadFilesWithAClearMessage) {
  const model_files& m = test_model("tiny");
  const std::string good = read_all(m.model_path);
  const std::string bad = m.dir + "/bad.bin";
  std::string error;

  write_all(bad, good.substr(0, good.size() - 4));
  EXPECT_FALSE(model::checkpoint::open(bad, error));
  EXPECT_NE(error.find("size mismatch"), std::string::npos) << error;

  write_all(bad, good + "x");
  EXPECT_FALSE(model::checkpoint::open(bad, error));
  EXPECT_NE(error.find("size mismatch"), std::string::npos) << error;

  write_all(bad, good.substr(0, 10));
  EXPECT_FALSE(model::checkpoint::open(bad, error));
  EXPECT_NE(error.find("header"), std::string::npos) << error;

  std::string header = good;
  const int32_t zero_heads = 0;
  header.replace(12, 4, reinterpret_cast<const char*>(&zero_heads), 4);
  write_all(bad, header);
  EXPECT_FALSE(model::checkpoint::open(bad, error));
  EXPECT_NE(error.find("n_heads"), std::string::npos) << error;

  write_all(bad, "");
  EXPECT_FALSE(model::checkpoint::open(bad, error));
  EXPECT_NE(error.find("empty"), std::string::npos) << error;

  EXPECT_FALSE(model::checkpoint::open(m.dir + "/missing.bin", error));
  EXPECT_NE(error.find("missing.bin"), std::string::npos) << error;
}

TEST(Tokenizer, SyntheticVocabularyHasTheLlamaLayout) {
  for (int vocab : {512, 32000}) {
    const model::tokenizer t = model::make_tokenizer(vocab, 3);
    if (vocab == 32000) {
      EXPECT_EQ(t.serialize(), model::make_tokenizer(vocab, 3).serialize());
    }
    ASSERT_EQ(t.vocab_size(), vocab);
    EXPECT_EQ(t.piece(model::token_bos), "\n<s>\n");
    EXPECT_EQ(t.piece(model::token_byte0 + 0x41), "<0x41>");
    EXPECT_EQ(t.decode(0, model::token_byte0 + 0x41), "A");
    std::set<std::string> unique;
    for (int i = 0; i < vocab; ++i) unique.insert(t.piece(i));
    EXPECT_EQ(static_cast<int>(unique.size()), vocab);
  }
  EXPECT_NE(model::make_tokenizer(2000, 3).serialize(), model::make_tokenizer(2000, 4).serialize());
}

TEST(Tokenizer, EncodesWordsAsWholeTokensAndRoundTrips) {
  const model_files& m = test_model("tiny");
  const auto ids = m.tok.encode("the cat", true);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], model::token_bos);
  EXPECT_EQ(m.tok.piece(ids[1]), " the");
  EXPECT_EQ(m.tok.piece(ids[2]), " cat");

  for (const std::string text :
       {"once upon a time, a little girl", "x\ny\tz {}", "caf\xC3\xA9 \xE2\x9C\x93!"}) {
    const auto t = m.tok.encode(text, true);
    std::string back;
    for (size_t i = 1; i < t.size(); ++i) back += m.tok.decode(t[i - 1], t[i]);
    EXPECT_EQ(back, text);
  }
  EXPECT_EQ(m.tok.encode("", true), std::vector<int32_t>{model::token_bos});
  EXPECT_TRUE(m.tok.encode("", false).empty());
}

// llama2.c's encoder, written plainly: merge the best-scoring pair (leftmost on ties) until none.
std::vector<int32_t> naive_encode(const model::tokenizer& t, const std::string& text) {
  std::map<std::string, int32_t> ids;
  for (int i = t.vocab_size() - 1; i >= 0; --i) ids[t.piece(i)] = i;
  std::vector<int32_t> out;
  if (ids.count(" ")) out.push_back(ids[" "]);
  for (unsigned char c : text) {
    auto it = ids.find(std::string(1, static_cast<char>(c)));
    out.push_back(it != ids.end() ? it->second : c + model::token_byte0);
  }
  for (;;) {
    float best = -1e30f;
    int at = -1, id = -1;
    for (size_t i = 0; i + 1 < out.size(); ++i) {
      auto it = ids.find(t.piece(out[i]) + t.piece(out[i + 1]));
      if (it != ids.end() && t.score(it->second) > best) {
        best = t.score(it->second);
        at = static_cast<int>(i);
        id = it->second;
      }
    }
    if (at < 0) break;
    out[static_cast<size_t>(at)] = id;
    out.erase(out.begin() + at + 1);
  }
  return out;
}

TEST(Tokenizer, HeapBpeMatchesTheQuadraticAlgorithm) {
  // A vocabulary with competing merges and equal scores, to exercise tie-breaking.
  std::vector<std::string> pieces = {"<unk>", "\n<s>\n", "\n</s>\n"};
  for (int b = 0; b < 256; ++b) pieces.push_back(fmt::format("<0x{:02X}>", b));
  for (const char* p :
       {" ", "a", "b", "c", "ab", "bc", "abc", "ca", " a", " ab", "cab", "bca", "aa", "aaa"})
    pieces.push_back(p);
  std::vector<float> scores(pieces.size(), 0.0f);
  xoshiro256 rng(9);
  for (size_t i = 259; i < pieces.size(); ++i) scores[i] = static_cast<float>(rng.below(4));
  const model::tokenizer t = model::tokenizer::from_pieces(pieces, scores);
  const std::string alphabet = "abc abd";
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    const int n = 1 + static_cast<int>(rng.below(24));
    for (int i = 0; i < n; ++i) text += alphabet[rng.below(alphabet.size())];
    auto got = t.encode(text, false);
    EXPECT_EQ(got, naive_encode(t, text)) << "text '" << text << "'";
  }
}

TEST(Tokenizer, RejectsBadFiles) {
  const model_files& m = test_model("tiny");
  const std::string good = read_all(m.tokenizer_path);
  const std::string bad = m.dir + "/bad-tok.bin";
  std::string error;
  EXPECT_TRUE(model::tokenizer::load(m.tokenizer_path, 512, error));
  EXPECT_FALSE(model::tokenizer::load(m.tokenizer_path, 511, error));  // bytes left over
  EXPECT_NE(error.find("after"), std::string::npos) << error;
  EXPECT_FALSE(model::tokenizer::load(m.tokenizer_path, 513, error));  // runs out
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  write_all(bad, good.substr(0, 2));
  EXPECT_FALSE(model::tokenizer::load(bad, 512, error));
}

}  // namespace
}  // namespace spillway::engine::test
