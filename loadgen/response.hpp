// What both protocol adapters do with a response: note the headers the report needs, time the
// body (first byte, each streamed text chunk), and classify the outcome when it ends.
// Runs on the driver thread that owns the request.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "loadgen/request.hpp"

namespace spillway::loadgen {

struct response_rules {
  bool openai = false;
  bool stream = false;
  std::string engine_header = "x-engine-name";
};

void on_response_status(request_ctx& r, int status, int64_t now);
void on_response_header(request_ctx& r, std::string_view name, std::string_view value,
                        const response_rules& rules);
/// `read_seq` identifies the network read or frame the bytes came in (to count body chunks).
void on_response_body(request_ctx& r, std::string_view bytes, int64_t now, uint32_t read_seq,
                      const response_rules& rules);
/// The response ended normally: sets `done` and classifies it (HTTP status, stream cut, usage).
void finish_response(request_ctx& r, int64_t now, const response_rules& rules);
/// The transport failed before the response ended.
void fail_response(request_ctx& r, int64_t now);

}  // namespace spillway::loadgen
