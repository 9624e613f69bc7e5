// Counts the tokens an answer used, for the tokens_per_minute budget (SPEC §2.2 Traffic policy):
// the OpenAI `usage` object when the answer carries one (`total_tokens`, else
// `prompt_tokens + completion_tokens`), otherwise, for event streams, one token per `data:`
// event (the final `data: [DONE]` excluded). `usage` closes an OpenAI answer, so only the last
// bytes are kept: memory stays bounded whatever the answer's size.
//
// Threading: one exchange, one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace spillway::ratelimit {

class usage_meter {
 public:
  static constexpr size_t tail_bytes = 8 * 1024;

  void reset();
  /// Feeds the next bytes of the answer (may be split anywhere).
  void feed(std::string_view bytes);
  /// Tokens used: from usage when seen, else the streamed events counted.
  uint64_t tokens() const;
  uint64_t events() const noexcept { return events_; }

 private:
  std::string tail_;
  uint64_t events_ = 0;
  bool done_seen_ = false;
};

/// The value of `"name": <integer>` last found in `text`; -1 when absent.
int64_t last_json_integer(std::string_view text, std::string_view name);

}  // namespace spillway::ratelimit
