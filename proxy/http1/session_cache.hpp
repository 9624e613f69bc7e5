// Per-request state of http1::session for a route with `cache` (session_cache.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cache/cache_key.hpp"
#include "cache/cache_status.hpp"
#include "cache/entry.hpp"
#include "cache/idempotency.hpp"
#include "cache/inflight.hpp"
#include "proxy/http1/parser.hpp"

namespace spillway::http1 {

struct cache_ctx {
  std::string body;                // the request body, identity-decoded
  bool body_done = false;          // the whole body is in `body`
  cache::key_result key;           // empty key: not cacheable (bypass)
  cache::entry_ptr stale;          // a stale entry kept for stale_if_error
  cache::flight_leader leader;     // set while this request feeds a flight
  cache::flight_subscription sub;  // set while this request follows a flight
  cache::cache_status status = cache::cache_status::bypass;
  bool counted = false;
  bool head_sent = false;         // Cache-Status already chosen and sent
  bool following = false;         // waiting for a flight's events
  bool follow_stream = false;     // streaming the flight's events to the client
  bool collapsed_failed = false;  // the flight failed before anything was sent: uncached
  std::string tap;                // upstream body bytes not yet fed to the flight
  body_framer framer;             // frames a follower's streamed events
  uint64_t gen = 0;               // bumped per request; late callbacks compare it
  // Idempotency-Key (route `idempotency`): the same steps on a record key, whatever the cache
  // settings; the record carries the body's fingerprint.
  bool idem = false;
  std::string idem_value;  // the client's key
  std::string fingerprint;
  std::optional<cache::idempotency_result> idem_result;
};

}  // namespace spillway::http1
