// OpenAI API details the load generator needs: the request body for /v1/completions and
// /v1/chat/completions, and what one streamed chunk or one whole answer says (text or not,
// `usage`, an error object, the "[DONE]" sentinel). Stateless functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "loadgen/options.hpp"
#include "loadgen/prompts.hpp"

namespace spillway::loadgen {

struct chunk_info {
  bool done = false;      // "[DONE]"
  bool has_text = false;  // carries generated text (a token chunk in vLLM's terms)
  bool error = false;     // an "error" object, or not JSON at all
  int64_t completion_tokens = -1;
  int64_t prompt_tokens = -1;
};

/// Interprets the data of one server-sent event of a streamed completion.
chunk_info interpret_stream_event(std::string_view data);

/// Interprets a whole non-streamed JSON answer (usage and whether it carries text).
chunk_info interpret_completion(std::string_view body);

/// JSON body of a completion request for `prompt`.
std::string build_openai_body(const options& o, const prompt_parts& prompt);

}  // namespace spillway::loadgen
