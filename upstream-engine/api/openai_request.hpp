// OpenAI request bodies (POST /v1/completions and /v1/chat/completions) parsed and validated
// into what the runtime needs: prompt tokens and sampling parameters. Every problem becomes a
// 400 with a message naming the parameter. Stateless; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "upstream-engine/model/tokenizer.hpp"
#include "upstream-engine/runtime/sampler.hpp"

namespace spillway::engine::api {

/// An error answer in the OpenAI shape: {"error": {"message", "type", "param", "code"}}.
struct api_error {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty: null
  std::string code;   // empty: null
};

struct completion_request {
  bool chat = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::string model;
  std::vector<int32_t> prompt;
  runtime::sampling_params params;
};

/// Defaults when max_tokens is absent: 16 for completions (as OpenAI), up to this many for chat;
/// both capped by the context left after the prompt.
inline constexpr int default_completion_tokens = 16;
inline constexpr int default_chat_tokens = 256;

/// The chat template: "System: ...\n\nUser: ...\n\nAssistant: ...\n\n" then "Assistant:".
std::string apply_chat_template(const std::vector<std::pair<std::string, std::string>>& messages);

/// Parses `body`; tokenises the prompt with `tok` and checks it against the context `seq_len`.
std::optional<completion_request> parse_completion_request(std::string_view body, bool chat,
                                                           const model::tokenizer& tok, int seq_len,
                                                           api_error& error);

}  // namespace spillway::engine::api
