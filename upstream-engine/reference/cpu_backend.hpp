// Multi-threaded CPU backend: the llama2 forward pass (llama2.c run.c) over a flattened batch of
// tokens from many sequences, with K/V in a paged cache held in host memory. Each weight matrix
// is read once per step for the whole batch. Scheduler thread only; the pool's threads do the
// matrix products and attention. The weights are copied, packed, into huge pages
// (packed_weights.hpp).
#pragma once

#include <vector>

#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/reference/packed_weights.hpp"
#include "upstream-engine/reference/thread_pool.hpp"
#include "upstream-engine/runtime/backend.hpp"

namespace spillway::engine::reference {

class cpu_backend final : public runtime::backend {
 public:
  /// `threads` and `max_spin` as thread_pool's.
  cpu_backend(const model::checkpoint& ck, runtime::kv_geometry kv, int threads,
              std::chrono::microseconds max_spin = thread_pool::default_max_spin);

  const char* name() const noexcept override { return "cpu"; }
  const model::model_config& config() const noexcept override { return cfg_; }
  runtime::kv_geometry geometry() const noexcept override { return kv_; }
  std::string forward(const runtime::batch_input& in, std::span<float> logits,
                      std::span<int32_t> argmax) override;

  /// Copies of the cached K or V rows (tests): layer, block, slot → kv_dim floats.
  const float* k_slot(int layer, int block, int slot) const;

 private:
  std::string check(const runtime::batch_input& in, std::span<float> logits,
                    std::span<int32_t> argmax) const;
  void layer(int l, const runtime::batch_input& in);
  void attention(int l, const runtime::batch_input& in);
  size_t cache_offset(int layer, int block, int slot) const;

  const model::model_config cfg_;
  const packed_weights w_;
  const runtime::kv_geometry kv_;
  thread_pool pool_;
  std::vector<float> k_cache_;  // [layer][block][slot][kv_dim]
  std::vector<float> v_cache_;
  std::vector<float> rope_;  // [pos][cos * head/2, sin * head/2]
  // Per-step scratch, [tokens][width].
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, att_, hb_, hb2_;
};

}  // namespace spillway::engine::reference
