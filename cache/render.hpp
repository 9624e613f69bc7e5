// Showing a cached entry in the form the client asked for (SPEC §2.2: a streamed request is
// answered as a replayed event stream, a non-streamed one as JSON), whatever form was stored:
//
// - JSON entry, JSON asked: the body as stored.
// - event-stream entry, event stream asked: the events as stored, in order.
// - event-stream entry, JSON asked: an OpenAI completion rebuilt from the chunks:
//   chat.completion.chunk -> chat.completion (delta.content concatenated per choice, role,
//   tool_calls with their arguments concatenated), text_completion chunks -> text_completion
//   (choices[].text concatenated); id, created, model, system_fingerprint from the first chunk
//   that has them, finish_reason and usage from the last that has them.
// - JSON entry, event stream asked: OpenAI streaming chunks synthesised from the completion:
//   one chunk with each choice's whole content (and role), one with each finish_reason, a
//   usage chunk (empty choices) when include_usage is asked and the body has usage, then
//   `[DONE]`. Bodies of another shape go out as one event followed by `[DONE]`.
//
// Pure functions, callable from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cache/entry.hpp"
#include "cache/error.hpp"

namespace spillway::cache {

struct sse_options {
  bool include_usage = false;  // the request's stream_options.include_usage
};

/// Whether to answer a client as an event stream: it asked for one and the entry is a 2xx
/// answer (an error answer, which only coalesced followers see, goes out as it came, in JSON).
inline bool answer_as_stream(const entry& e, bool stream_requested) noexcept {
  return stream_requested && e.status >= 200 && e.status <= 299;
}

/// Body of a non-streamed answer. render_failed when chunks are not OpenAI-shaped JSON.
error_code render_json(const entry& e, std::string& body);
/// Content type to send with render_json's body.
std::string_view json_content_type(const entry& e) noexcept;

/// The `data` payloads of a streamed answer, `[DONE]` last when there is one.
error_code sse_payloads(const entry& e, const sse_options& opt, std::vector<std::string>& out);
/// The whole event stream as bytes (sse_payloads, each framed by append_sse_event).
error_code render_sse(const entry& e, const sse_options& opt, std::string& out);
/// Content type to send with an event stream.
std::string_view sse_content_type(const entry& e) noexcept;

}  // namespace spillway::cache
