// Fuzz target for the HTTP/1 response side: response_parser with 1xx handling, HEAD, and the
// body re-framed for the client (chunked for HTTP/1.1 clients, raw for close-delimited). The
// input is parsed whole and cut at input-derived points; both runs must agree, and the
// re-framed body must be well-formed and match what the parser counted.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http1/parser.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/unit/http/parse_harness.hpp"

namespace spillway::fuzz {

namespace {

using http1::framing;
using http1::testing::forwarded_payload;
using http1::testing::response_run;

void check_final(const response_run& r, bool head_request) {
  const http::response_head& h = r.head;
  // Any three digits pass today (ResponseParser.DISABLED_BugStatusOutside100To599IsRefused);
  // a final response is at least never 1xx.
  SPILLWAY_FUZZ_CHECK(h.status <= 999 && (h.status < 100 || h.status >= 200));
  SPILLWAY_FUZZ_CHECK(!(h.chunked && h.content_length));
  for (size_t i = 0; i < h.headers.size(); ++i) {
    const auto name = h.headers.name(i);
    const auto value = h.headers.value(i);
    SPILLWAY_FUZZ_CHECK(!name.empty());
    SPILLWAY_FUZZ_CHECK(name.find_first_of(std::string_view(": \t\r\n\0", 6)) == std::string::npos);
    SPILLWAY_FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
    if (http::iequals(name, "transfer-encoding"))
      SPILLWAY_FUZZ_CHECK(http::iequals(value, "chunked"));
  }
  SPILLWAY_FUZZ_CHECK(h.headers.size() == r.head_fields);  // trailers are dropped
  const auto payload = forwarded_payload(r);
  SPILLWAY_FUZZ_CHECK(payload.has_value());
  SPILLWAY_FUZZ_CHECK(payload->size() == r.parser->body_bytes());
  const bool bodiless = head_request || h.status == 204 || h.status == 304;
  if (bodiless) {
    SPILLWAY_FUZZ_CHECK(r.mode == framing::none && r.parser->body_bytes() == 0);
    SPILLWAY_FUZZ_CHECK(r.parser->is_done());
  }
  if (h.content_length && !bodiless) {
    SPILLWAY_FUZZ_CHECK(payload->size() <= *h.content_length);
    if (r.parser->is_done()) SPILLWAY_FUZZ_CHECK(payload->size() == *h.content_length);
  }
}

void check_same(const response_run& a, const response_run& b) {
  SPILLWAY_FUZZ_CHECK(a.head_done == b.head_done);
  if (static_cast<bool>(a.ec) != static_cast<bool>(b.ec)) {
    // After a start line needed more bytes, Beast parses the head again only once its end has
    // arrived, so a bad head can be reported later (still incomplete, not yet an error) when
    // the input comes in pieces. Nowhere else may the runs differ.
    if (a.head_done)
      std::fprintf(stderr, "whole: '%s', split: '%s'\n", a.ec.message().c_str(),
                   b.ec.message().c_str());
    SPILLWAY_FUZZ_CHECK(!a.head_done);
    return;
  }
  SPILLWAY_FUZZ_CHECK(a.interim == b.interim);
  if (a.ec || !a.head_done) return;
  SPILLWAY_FUZZ_CHECK(a.parser->is_done() == b.parser->is_done());
  SPILLWAY_FUZZ_CHECK(a.pending == b.pending);
  SPILLWAY_FUZZ_CHECK(a.head.status == b.head.status && a.head.reason == b.head.reason);
  SPILLWAY_FUZZ_CHECK(a.head.version == b.head.version);
  SPILLWAY_FUZZ_CHECK(a.head.keep_alive == b.head.keep_alive);
  SPILLWAY_FUZZ_CHECK(a.head.chunked == b.head.chunked);
  SPILLWAY_FUZZ_CHECK(a.head.content_length == b.head.content_length);
  SPILLWAY_FUZZ_CHECK(a.head.headers.size() == b.head.headers.size());
  for (size_t i = 0; i < a.head.headers.size(); ++i) {
    SPILLWAY_FUZZ_CHECK(a.head.headers.name(i) == b.head.headers.name(i));
    SPILLWAY_FUZZ_CHECK(a.head.headers.value(i) == b.head.headers.value(i));
  }
  SPILLWAY_FUZZ_CHECK(forwarded_payload(a) == forwarded_payload(b));
}

}  // namespace

int http1_response_one(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  input_random rng(input);
  const uint64_t choice = rng.next();
  const framing f = (choice & 1) ? framing::chunked : framing::close_delimited;
  const bool head_request = (choice & 6) == 0;  // one input in four answers a HEAD
  const bool at_eof = (choice & 8) != 0;        // the upstream closes after the input

  response_run whole(f, head_request);
  whole.feed(input);
  response_run split(f, head_request);
  http1::testing::feed_split(split, input, split_points(rng, size));
  check_same(whole, split);
  if (at_eof) {
    const bool a = whole.eof(), b = split.eof();
    SPILLWAY_FUZZ_CHECK(a == b);
    check_same(whole, split);
  }
  if (!whole.ec && whole.head_done) {
    check_final(whole, head_request);
    check_final(split, head_request);
  }
  return 0;
}

}  // namespace spillway::fuzz

#ifdef SPILLWAY_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return spillway::fuzz::http1_response_one(data, size);
}
#endif
