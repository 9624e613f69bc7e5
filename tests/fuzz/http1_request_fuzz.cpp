// Fuzz target for the HTTP/1 request side: request_parser (with body re-framing) and
// raw_head_is_clean. Each input is parsed twice, whole and cut at input-derived points, the way
// the session feeds socket reads; both runs must agree, and an accepted request must satisfy
// the proxy's framing rules (RFC 9112 §6.1, §6.3): one Content-Length or chunked, never both,
// no chunked on HTTP/1.0, one Host, no CR, LF or NUL in any field.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http1/parser.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/unit/http/parse_harness.hpp"

namespace spillway::fuzz {

namespace {

using http1::testing::forwarded_payload;
using http1::testing::request_run;

bool has_control(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

void check_accepted_head(const request_run& r) {
  const http::request_head& h = r.head;
  SPILLWAY_FUZZ_CHECK(!h.method.empty());
  SPILLWAY_FUZZ_CHECK(h.target.find_first_of(std::string_view(" \r\n\0", 4)) == std::string::npos);
  SPILLWAY_FUZZ_CHECK(h.version == 10 || h.version == 11);
  SPILLWAY_FUZZ_CHECK(!(h.chunked && h.content_length));
  SPILLWAY_FUZZ_CHECK(!h.chunked || h.version == 11);
  size_t cl = 0, te = 0, host = 0;
  for (size_t i = 0; i < r.head_fields; ++i) {
    const auto name = h.headers.name(i);
    const auto value = h.headers.value(i);
    SPILLWAY_FUZZ_CHECK(!name.empty());
    SPILLWAY_FUZZ_CHECK(name.find_first_of(": \t") == std::string_view::npos);
    SPILLWAY_FUZZ_CHECK(!has_control(name) && !has_control(value));
    if (http::iequals(name, "content-length")) {
      ++cl;
      SPILLWAY_FUZZ_CHECK(value.find(',') == std::string_view::npos);
    }
    if (http::iequals(name, "transfer-encoding")) {
      ++te;
      SPILLWAY_FUZZ_CHECK(http::iequals(value, "chunked"));
    }
    if (http::iequals(name, "host")) ++host;
  }
  SPILLWAY_FUZZ_CHECK(cl <= 1 && te <= 1 && host <= 1);
  SPILLWAY_FUZZ_CHECK(h.version == 10 || host == 1);
  SPILLWAY_FUZZ_CHECK(h.chunked == (te == 1));
  SPILLWAY_FUZZ_CHECK(h.content_length.has_value() == (cl == 1));
}

void check_body(const request_run& r) {
  const auto payload = forwarded_payload(r);
  SPILLWAY_FUZZ_CHECK(payload.has_value());
  SPILLWAY_FUZZ_CHECK(payload->size() == r.parser.body_bytes());
  if (r.head.content_length) {
    SPILLWAY_FUZZ_CHECK(r.parser.body_bytes() <= *r.head.content_length);
    if (r.parser.is_done()) SPILLWAY_FUZZ_CHECK(r.parser.body_bytes() == *r.head.content_length);
  }
  if (!r.head.has_body()) SPILLWAY_FUZZ_CHECK(r.out.empty());
}

void check_same(const request_run& a, const request_run& b) {
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
  if (a.ec) return;
  SPILLWAY_FUZZ_CHECK(a.parser.is_done() == b.parser.is_done());
  if (!a.head_done) return;  // a start line may be consumed early or not (see above)
  SPILLWAY_FUZZ_CHECK(a.consumed == b.consumed);
  SPILLWAY_FUZZ_CHECK(a.head_bytes == b.head_bytes);
  SPILLWAY_FUZZ_CHECK(a.head.method == b.head.method && a.head.target == b.head.target);
  SPILLWAY_FUZZ_CHECK(a.head.version == b.head.version);
  SPILLWAY_FUZZ_CHECK(a.head.keep_alive == b.head.keep_alive);
  SPILLWAY_FUZZ_CHECK(a.head.chunked == b.head.chunked);
  SPILLWAY_FUZZ_CHECK(a.head.content_length == b.head.content_length);
  SPILLWAY_FUZZ_CHECK(a.head.expect_continue == b.head.expect_continue);
  SPILLWAY_FUZZ_CHECK(a.head.headers.size() == b.head.headers.size());
  for (size_t i = 0; i < a.head.headers.size(); ++i) {
    SPILLWAY_FUZZ_CHECK(a.head.headers.name(i) == b.head.headers.name(i));
    SPILLWAY_FUZZ_CHECK(a.head.headers.value(i) == b.head.headers.value(i));
    SPILLWAY_FUZZ_CHECK(a.head.headers.id(i) == b.head.headers.id(i));
  }
  SPILLWAY_FUZZ_CHECK(forwarded_payload(a) == forwarded_payload(b));
}

}  // namespace

int http1_request_one(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  input_random rng(input);

  // raw_head_is_clean on the whole input and on every line-aligned prefix.
  const bool clean = http1::raw_head_is_clean(input);
  for (size_t at = input.find('\n'); at != std::string_view::npos; at = input.find('\n', at + 1))
    if (clean) SPILLWAY_FUZZ_CHECK(http1::raw_head_is_clean(input.substr(0, at + 1)));

  request_run whole;
  whole.feed(input);
  request_run split;
  http1::testing::feed_split(split, input, split_points(rng, size));
  check_same(whole, split);

  if (!whole.ec && whole.head_done) {
    check_accepted_head(whole);
    check_body(whole);
    check_body(split);
    // The session refuses a head that is not clean; when it is, no field may carry CR or LF.
    const std::string_view raw = input.substr(0, whole.head_bytes);
    if (http1::raw_head_is_clean(raw)) {
      SPILLWAY_FUZZ_CHECK(raw.size() >= 4 && raw.substr(raw.size() - 4) == "\r\n\r\n");
    }
  }
  return 0;
}

}  // namespace spillway::fuzz

#ifdef SPILLWAY_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return spillway::fuzz::http1_request_one(data, size);
}
#endif
