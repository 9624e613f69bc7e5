// Prompt sources for OpenAI mode.
// - JSONL: one object per line with "prompt" (or "text") or "messages", optionally "max_tokens";
//   request i uses line i mod n.
// - Synthetic shared-prefix generator: `tenants` system prompts shared by every request of the
//   tenant, then (with sessions) a context shared by every request of the session, then a tail
//   unique to the request, so prefix caching and session affinity have something to find.
// Words come from a seeded pseudo-word vocabulary; the same seed gives the same text.
// Immutable after construction; safe to read from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/options.hpp"

namespace spillway::loadgen {

struct prompt_entry {
  std::string text;           // prompt text ("messages" joined for completions endpoints)
  std::string messages_json;  // JSON array of chat messages, empty if given as text
  std::optional<uint32_t> max_tokens;
};

struct prompt_parts {
  std::string system;         // shared by the tenant
  std::string context;        // shared by the session (synthetic with sessions), else empty
  std::string user;           // the request's own text
  std::string messages_json;  // set when a JSONL line gave chat messages verbatim
  std::optional<uint32_t> max_tokens;
};

class prompt_source {
 public:
  /// Loads --prompts or sets up the synthetic generator. Startup code: errors come back as text.
  static std::optional<prompt_source> create(const options& o, std::string& error);
  static prompt_source from_entries(std::vector<prompt_entry> entries);
  static prompt_source synthetic(const synthetic_prompts& s, uint64_t seed);

  /// The prompt for request `index` of session `session` (UINT32_MAX: none).
  prompt_parts get(uint64_t index, uint32_t session) const;
  size_t size() const noexcept { return entries_.size(); }
  bool is_synthetic() const noexcept { return entries_.empty(); }

 private:
  std::vector<prompt_entry> entries_;
  synthetic_prompts synth_;
  uint64_t seed_ = 1;
  std::vector<std::string> tenant_prompts_;
};

/// Parses JSONL prompt text; `error` names the first bad line.
std::optional<std::vector<prompt_entry>> parse_prompts_jsonl(const std::string& text,
                                                             std::string& error);

/// `count` pseudo-words drawn from a stream seeded by `seed`.
std::string pseudo_words(uint64_t seed, uint32_t count);

/// Stateless 64-bit mix of two values (splitmix64 finaliser), for per-request decisions that
/// must not depend on which thread makes them.
uint64_t mix64(uint64_t a, uint64_t b) noexcept;

}  // namespace spillway::loadgen
