// Incremental detokenised output of one sequence. Holds back text that could be the start of a
// stop string (so a stop string is never sent, as the OpenAI API specifies) and the bytes of an
// unfinished UTF-8 character (so every chunk is valid UTF-8); invalid bytes become U+FFFD.
// Owned by one sequence on the scheduler thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace spillway::engine::runtime {

/// `s` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);
/// Length of the longest prefix of `s` that does not end inside an unfinished UTF-8 character.
size_t utf8_complete_prefix(std::string_view s);

class text_stream {
 public:
  explicit text_stream(std::vector<std::string> stops = {});

  /// Adds decoded bytes; returns the text that is now safe to send. When a stop string appears,
  /// `stopped` is set and the returned text ends just before it.
  std::string push(std::string_view piece, bool& stopped);
  /// Everything still held back (at the end of generation), sanitised.
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace spillway::engine::runtime
