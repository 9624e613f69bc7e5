// llama2.c tokenizer format and its BPE (Karpathy, llama2.c run.c; Sennrich et al. 2016):
// int32 max_token_length, then per token: float32 merge score, int32 byte length, the bytes.
// Ids 0, 1, 2 are <unk>, BOS, EOS; ids 3..258 are the byte-fallback tokens <0x00>..<0xFF>.
// Encoding splits text into UTF-8 characters (unknown ones fall back to bytes), then repeatedly
// merges the adjacent pair whose concatenation is a token with the highest score (leftmost on
// ties), as run.c does; a heap of candidate pairs makes it O(n log n) instead of O(n^2).
// Immutable after load: encode/decode are safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace spillway::engine::model {

inline constexpr int32_t token_unk = 0;
inline constexpr int32_t token_bos = 1;
inline constexpr int32_t token_eos = 2;
inline constexpr int32_t token_byte0 = 3;

class tokenizer {
 public:
  tokenizer() = default;
  tokenizer(tokenizer&&) = default;  // the id index points into pieces_, which a move keeps
  tokenizer& operator=(tokenizer&&) = default;
  tokenizer(const tokenizer&) = delete;
  tokenizer& operator=(const tokenizer&) = delete;

  /// Loads a tokenizer file with exactly `vocab_size` entries. nullopt with `error` on failure.
  static std::optional<tokenizer> load(const std::string& path, int vocab_size, std::string& error);
  /// Builds one from pieces and scores (make-model, tests).
  static tokenizer from_pieces(std::vector<std::string> pieces, std::vector<float> scores);

  /// Tokens for `text`, with BOS first when `bos`; a leading space is added as llama2.c does.
  std::vector<int32_t> encode(std::string_view text, bool bos) const;
  /// Bytes that `token` adds after `prev` (the leading space after BOS is dropped).
  std::string_view decode(int32_t prev, int32_t token) const;

  int vocab_size() const noexcept { return static_cast<int>(pieces_.size()); }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  float score(int32_t id) const { return scores_[static_cast<size_t>(id)]; }
  int max_token_length() const noexcept { return max_len_; }

  /// Serialises to the llama2.c file format.
  std::string serialize() const;

 private:
  void index();
  int32_t find(std::string_view s) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string_view, int32_t> ids_;
  std::vector<std::string> byte_pieces_;  // single raw bytes, for <0xXX> decoding
  int max_len_ = 0;
};

}  // namespace spillway::engine::model
