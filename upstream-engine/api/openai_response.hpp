// OpenAI response bodies: whole completions, server-sent-event chunks (text_completion and
// chat.completion.chunk), usage and errors. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "upstream-engine/api/openai_request.hpp"

namespace spillway::engine::api {

struct usage_counts {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
};

/// Identity of one answer, repeated in every chunk.
struct response_meta {
  std::string id;  // cmpl-... or chatcmpl-...
  int64_t created = 0;
  std::string model;
  bool chat = false;
};

std::string error_json(const api_error& e);

/// The whole (non-streamed) answer.
std::string completion_json(const response_meta& m, std::string_view text,
                            std::string_view finish_reason, const usage_counts& u);

/// One SSE event, "data: {...}\n\n". `finish_reason` empty means null; `role` adds the
/// assistant role to a chat delta (first chunk); `usage` is attached when non-null.
std::string chunk_event(const response_meta& m, std::string_view text,
                        std::string_view finish_reason, bool role, const usage_counts* usage);

/// The usage-only chunk of stream_options.include_usage (empty choices).
std::string usage_event(const response_meta& m, const usage_counts& u);

/// An error inside an already started stream.
std::string error_event(const api_error& e);

inline constexpr std::string_view done_event = "data: [DONE]\n\n";

}  // namespace spillway::engine::api
