#include "loadgen/response.hpp"

#include "loadgen/http1_parser.hpp"
#include "loadgen/openai.hpp"

namespace spillway::loadgen {

namespace {
constexpr size_t max_kept_body = 1 << 20;  // non-streamed answers, read for `usage`
constexpr size_t max_kept_error = 1024;    // error answers, kept as an example for the report
}  // namespace

void on_response_status(request_ctx& r, int status, int64_t now) {
  r.status = status;
  if (r.first_byte < 0) r.first_byte = now;
}

void on_response_header(request_ctx& r, std::string_view name, std::string_view value,
                        const response_rules& rules) {
  if (iequals(name, "content-type")) {
    r.event_stream = value.find("text/event-stream") != std::string_view::npos;
  } else if (iequals(name, "cache-status")) {
    r.cache_status.assign(value);
  } else if (iequals(name, rules.engine_header)) {
    r.engine.assign(value);
  }
}

void on_response_body(request_ctx& r, std::string_view bytes, int64_t now, uint32_t read_seq,
                      const response_rules& rules) {
  if (bytes.empty()) return;
  r.bytes += bytes.size();
  if (r.read_seq != read_seq || r.body_chunks == 0) {
    r.read_seq = read_seq;
    ++r.body_chunks;
  }
  if (r.event_stream) {
    r.sse.feed(bytes, [&](const sse_parser::event& e) {
      if (!rules.openai) {
        ++r.tokens;
        return;
      }
      const chunk_info c = interpret_stream_event(e.data);
      if (c.done) {
        r.saw_done = true;
        return;
      }
      if (c.error && r.error == error_class::none && r.status < 400)
        r.error = error_class::bad_response;
      if (c.completion_tokens >= 0) r.usage_completion = c.completion_tokens;
      if (c.prompt_tokens >= 0) r.usage_prompt = c.prompt_tokens;
      if (!c.has_text) return;
      ++r.tokens;
      if (r.first_token < 0) {
        r.first_token = now;
      } else {
        r.itl.push_back(now - r.last_token);
      }
      r.last_token = now;
    });
  } else if (r.status >= 400) {
    if (r.body_text.size() < max_kept_error)
      r.body_text.append(bytes.substr(0, max_kept_error - r.body_text.size()));
  } else if (rules.openai && r.body_text.size() < max_kept_body) {
    r.body_text.append(bytes);
  }
}

void finish_response(request_ctx& r, int64_t now, const response_rules& rules) {
  r.done = now;
  if (r.error != error_class::none) return;
  if (r.status >= 400) {
    r.error = error_class::http_status;
    return;
  }
  if (!rules.openai) return;
  if (r.event_stream) {
    if (!r.saw_done) r.error = error_class::stream_cut;
    return;
  }
  const chunk_info c = interpret_completion(r.body_text);
  if (c.error) {
    r.error = error_class::bad_response;
    return;
  }
  if (c.completion_tokens >= 0) r.usage_completion = c.completion_tokens;
  if (c.prompt_tokens >= 0) r.usage_prompt = c.prompt_tokens;
  if (c.has_text) r.tokens = 1;
}

void fail_response(request_ctx& r, int64_t now) {
  r.done = now;
  if (r.error != error_class::none) return;
  r.error = (r.event_stream && r.status > 0 && r.status < 400) ? error_class::stream_cut
                                                               : error_class::reset;
}

}  // namespace spillway::loadgen
