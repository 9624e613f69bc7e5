// Token sampling: temperature 0 is greedy (argmax, deterministic); otherwise softmax at the given
// temperature, optionally restricted to the smallest set of tokens whose probability reaches
// top_p (nucleus sampling, Holtzman et al. 2020), drawn with the sequence's own seeded generator.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/random.hpp"

namespace spillway::engine::runtime {

struct sampling_params {
  float temperature = 1.0f;
  float top_p = 1.0f;
  int max_tokens = 16;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  bool has_seed = false;
  uint64_t seed = 0;
};

class sampler {
 public:
  /// Draws a token from `logits` (temperature > 0). Scratch space is reused across calls.
  int32_t sample(std::span<const float> logits, float temperature, float top_p, xoshiro256& rng);

 private:
  std::vector<std::pair<float, int32_t>> probs_;
};

}  // namespace spillway::engine::runtime
