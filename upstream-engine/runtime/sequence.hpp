// One generation request inside the runtime: its tokens (prompt then output), how many of them
// have K/V in the cache, its block table, sampling state and the sink that receives its output.
// Owned by the scheduler and touched only on the scheduler thread; the request_handle is the one
// part shared with the HTTP side (to cancel).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "upstream-engine/runtime/sampler.hpp"
#include "upstream-engine/runtime/text_stream.hpp"

namespace spillway::engine::runtime {

enum class finish_reason : uint8_t { none, stop, length, abort, error };

const char* to_string(finish_reason r) noexcept;

/// What a sequence reports, in order, on the scheduler thread. Every sequence ends with exactly
/// one event whose `finish` is not `none`.
struct generation_event {
  std::string text;    // new output text, possibly empty
  int32_t token = -1;  // the token sampled this step, -1 if none
  finish_reason finish = finish_reason::none;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;  // prompt tokens served from the prefix cache
  std::string error;      // with finish_reason::error
};

/// Receives events on the scheduler thread; must not block (post the work elsewhere).
using event_sink = std::function<void(generation_event&&)>;

/// Shared with the submitter: setting `cancelled` (through engine::cancel) ends the sequence
/// and frees its KV blocks at the next step boundary.
struct request_handle {
  uint64_t id = 0;
  std::atomic<bool> cancelled{false};
};

struct sequence {
  uint64_t id = 0;
  std::shared_ptr<request_handle> handle;
  event_sink sink;
  sampling_params params;
  xoshiro256 rng;
  text_stream text;

  std::vector<int32_t> tokens;  // prompt then generated
  int prompt_len = 0;
  int computed = 0;  // tokens whose K/V are in the cache
  int generated = 0;
  int cached_tokens = 0;
  std::vector<int32_t> blocks;   // block table
  std::vector<uint64_t> hashes;  // chained hashes of the leading full blocks

  steady_time arrival{};
  steady_time first_token{};
  bool admitted_once = false;

  int remaining() const noexcept { return static_cast<int>(tokens.size()) - computed; }
};

}  // namespace spillway::engine::runtime
