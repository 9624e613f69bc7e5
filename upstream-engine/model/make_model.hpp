// Synthetic models for tests, demos and benchmarks: `make-model` writes a seeded llama2.c
// checkpoint of a named shape and a tokenizer whose pieces read as words, so everything runs
// with no download. Presets: tiny (tests; unshared classifier, grouped-query attention),
// small and 110m (the shapes of the public TinyStories 15M and 110M llama2.c models).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/model/tokenizer.hpp"

namespace spillway::engine::model {

/// First id of the word pieces in make_tokenizer's layout (3 specials, 256 bytes, 95 characters).
inline constexpr int synthetic_word_start = 3 + 256 + 95;

/// The shape of a named preset, or nullopt for an unknown name.
std::optional<model_config> preset_config(std::string_view name);

/// A word-like tokenizer of exactly `vocab_size` pieces, in the llama2.c layout (<unk>, BOS,
/// EOS, 256 byte tokens, printable ASCII, then words with every word prefix so BPE merges
/// reach whole words). Deterministic for a given seed.
tokenizer make_tokenizer(int vocab_size, uint64_t seed);

/// Writes a checkpoint with seeded random weights (uniform, variance 1/fan_in; norms near 1).
bool write_checkpoint(const model_config& c, uint64_t seed, const std::string& path,
                      std::string& error);

bool write_tokenizer(const tokenizer& t, const std::string& path, std::string& error);

}  // namespace spillway::engine::model
