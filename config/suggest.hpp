// "Did you mean" suggestions for misspelt keys and values: the closest candidate by
// optimal-string-alignment distance (Levenshtein plus adjacent transpositions), if close enough
// for the word's length to be a likely typo.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace spillway::config {

/// Edit distance counting insertions, deletions, substitutions and adjacent swaps as one each.
size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` within the typo threshold; empty when none is close.
std::string closest_match(std::string_view word, std::span<const std::string_view> candidates);

/// "; did you mean 'x'?" or "" — ready to append to a message.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace spillway::config
