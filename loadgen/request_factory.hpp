// Builds what each request sends. Plain mode: one request serialised once and shared. OpenAI
// mode: a body per request from the prompt source, with the session id header when --sessions
// is set. Per-request choices (session, prompt, cancellation) depend only on the seed and the
// request index, so every thread and every rerun of a schedule makes the same ones.
// Immutable after construction; fill() may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/options.hpp"
#include "loadgen/prompts.hpp"
#include "loadgen/request.hpp"

namespace spillway::loadgen {

class request_factory {
 public:
  request_factory(const options& o, const url& target, std::optional<prompt_source> prompts);

  /// Sets what request `r.index` sends (wire bytes, body, session).
  void fill(request_ctx& r) const;

  /// Delay after sending at which request `index` is cancelled, or -1 (kept).
  int64_t cancel_delay(uint64_t index) const noexcept;

  const std::string& method() const noexcept { return opts_.method; }
  const url& target() const noexcept { return target_; }
  /// Header fields for HTTP/2 (lower-case names; no pseudo-headers, no session header).
  const std::vector<std::pair<std::string, std::string>>& h2_headers() const noexcept {
    return h2_headers_;
  }
  const std::string& session_header_lower() const noexcept { return session_header_lower_; }

 private:
  std::string head(size_t content_length, const std::string& session) const;

  const options& opts_;
  url target_;
  std::optional<prompt_source> prompts_;
  std::string fixed_head_;   // request line and the headers shared by every request
  std::string static_wire_;  // whole request, plain mode without sessions
  std::vector<std::pair<std::string, std::string>> h2_headers_;
  std::string session_header_lower_;
};

}  // namespace spillway::loadgen
