// The compute interface the scheduler drives: one call runs the transformer over a flattened
// batch of tokens from many sequences (prefill chunks and single decode tokens mixed, as in
// vLLM's flattened batches) against a paged KV cache the backend owns, and returns logits for the
// rows that asked for them. Implementations: reference/cpu_backend (threads) and
// cuda/cuda_backend (cuBLAS + own kernels). Called from the scheduler thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "upstream-engine/model/checkpoint.hpp"

namespace spillway::engine::runtime {

/// Geometry of the paged KV cache: `num_blocks` blocks of `block_size` token slots per layer.
struct kv_geometry {
  int num_blocks = 0;
  int block_size = 16;
};

/// One step's work. Token t belongs to sequence seq[t] and sits at position pos[t]; its K/V go
/// to slot pos % block_size of block block_table[table_offset[seq] + pos / block_size].
/// Attention for token t covers positions 0..pos[t] of its sequence, all of which are in the
/// cache once this step has written its own tokens.
struct batch_input {
  std::vector<int32_t> tokens;
  std::vector<int32_t> pos;
  std::vector<int32_t> seq;
  std::vector<int32_t> block_table;   // all sequences' tables, concatenated
  std::vector<int32_t> table_offset;  // per sequence, into block_table
  std::vector<int32_t> logit_rows;    // token indices whose logits are wanted, in output order
  std::vector<uint8_t> want_logits;   // per logit row: 1 = full logits needed, 0 = argmax enough

  void clear() {
    tokens.clear();
    pos.clear();
    seq.clear();
    block_table.clear();
    table_offset.clear();
    logit_rows.clear();
    want_logits.clear();
  }
};

class backend {
 public:
  virtual ~backend() = default;

  virtual const char* name() const noexcept = 0;
  virtual const model::model_config& config() const noexcept = 0;
  virtual kv_geometry geometry() const noexcept = 0;

  /// Runs one step. `logits` has logit_rows.size() * vocab floats: rows with want_logits set are
  /// filled (others may be left untouched); `argmax` gets each row's greedy token. Returns an
  /// empty string on success, else what failed (the engine then fails the batch).
  virtual std::string forward(const batch_input& in, std::span<float> logits,
                              std::span<int32_t> argmax) = 0;
};

}  // namespace spillway::engine::runtime
