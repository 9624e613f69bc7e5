// llama2.c checkpoint format (Karpathy, llama2.c run.c "legacy" export): a header of seven int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then float32 weights in a
// fixed order. A negative vocab_size means the classifier is stored separately after the weights
// instead of sharing the token embedding. The file is memory-mapped; the weights are read in place.
// Loading validates the header and the exact file size. Immutable after open(): safe to share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "upstream-engine/model/mapped_file.hpp"

namespace spillway::engine::model {

struct model_config {
  int dim = 0;
  int hidden_dim = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int vocab_size = 0;  // always positive here; see shared_classifier
  int seq_len = 0;
  bool shared_classifier = true;

  int head_size() const noexcept { return dim / n_heads; }
  int kv_dim() const noexcept { return head_size() * n_kv_heads; }
  /// Number of float32 values after the header that a file of this shape holds.
  uint64_t weight_floats() const noexcept;
};

/// Pointers into the mapping; matrices are row-major [out][in] as llama2.c stores them.
struct weights_view {
  const float* token_embedding = nullptr;  // [vocab][dim]
  const float* rms_att = nullptr;          // [layer][dim]
  const float* wq = nullptr;               // [layer][dim][dim]
  const float* wk = nullptr;               // [layer][kv_dim][dim]
  const float* wv = nullptr;               // [layer][kv_dim][dim]
  const float* wo = nullptr;               // [layer][dim][dim]
  const float* rms_ffn = nullptr;          // [layer][dim]
  const float* w1 = nullptr;               // [layer][hidden][dim]
  const float* w2 = nullptr;               // [layer][dim][hidden]
  const float* w3 = nullptr;               // [layer][hidden][dim]
  const float* rms_final = nullptr;        // [dim]
  const float* wcls = nullptr;             // [vocab][dim]; equals token_embedding when shared
};

inline constexpr size_t checkpoint_header_bytes = 7 * sizeof(int32_t);

/// Checks a header against sane limits; returns an empty string when valid, else the reason.
std::string validate_config(const model_config& c);

class checkpoint {
 public:
  /// Maps and validates `path`. On failure returns nullopt and sets `error` to one line.
  static std::optional<checkpoint> open(const std::string& path, std::string& error);

  const model_config& config() const noexcept { return config_; }
  const weights_view& weights() const noexcept { return weights_; }
  size_t file_bytes() const noexcept { return file_.size(); }

 private:
  mapped_file file_;
  model_config config_;
  weights_view weights_;
};

}  // namespace spillway::engine::model
