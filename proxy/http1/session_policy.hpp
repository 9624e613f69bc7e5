// Per-exchange state of the traffic policies in http1::session (session_policy.cpp): the rate
// limit key and token meter, the X-RateLimit-* fields for the answer, and a compressed request
// body while it is collected and decoded.
#pragma once

#include <cstdint>
#include <string>

#include "proxy/compression/codec.hpp"
#include "proxy/ratelimit/local_limiter.hpp"
#include "proxy/ratelimit/usage_meter.hpp"

namespace spillway::http1 {

struct policy_exchange {
  uint64_t rate_key = 0;
  bool metering = false;         // the answer's tokens are charged to the key's budget
  ratelimit::usage_meter meter;  // tokens of the answer, as it goes out
  std::string headers;           // extra response fields, "Name: value\r\n" each
  bool collecting = false;       // reading a compressed request body to decode it
  compression::coding coding = compression::coding::identity;
  std::string raw_body;  // the body as received
  std::string decoded;   // the body to send upstream
  bool has_decoded = false;
  uint32_t gen = 0;          // bumped per exchange; late Redis answers compare it
  bool compressing = false;  // buffering a response to compress it for the client
  bool meter_fed = false;    // the meter has the answer already (it went out compressed)
  compression::coding res_coding = compression::coding::identity;
  std::string res_body;  // the response body being buffered
  // WebSocket (routes[].websocket): after the 101 the connection is a byte tunnel
  bool websocket = false;      // an upgrade request on a websocket route
  bool ws_up_writing = false;  // client bytes being written upstream
  bool ws_paused = false;      // upstream reads wait for the client to take what we have
  std::string ws_up;           // client bytes being written upstream
  std::string ws_down;         // upstream read buffer

  void reset() {
    metering = false;
    headers.clear();
    collecting = false;
    raw_body.clear();
    decoded.clear();
    has_decoded = false;
    compressing = false;
    res_body.clear();
    websocket = false;
    ++gen;
  }
};

}  // namespace spillway::http1
