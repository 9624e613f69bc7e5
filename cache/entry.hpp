// A cached answer, stored once whatever form the client asked for (SPEC §2.2 Cache): status,
// the original content type, and either the JSON body or the `data` payloads of the event
// stream in order (`[DONE]` included when the upstream sent it). render.hpp turns it into a
// JSON body or an event stream; serialize()/deserialize() carry it to and from Redis.
//
// Only 2xx responses with a JSON or event-stream content type and an identity encoding are
// stored (storable_head()). Entries are immutable once built and shared as
// std::shared_ptr<const entry> between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/error.hpp"
#include "cache/sse.hpp"

namespace spillway::cache {

enum class body_kind : uint8_t { json = 1, sse = 2 };

struct entry {
  int status = 200;
  std::string content_type;
  body_kind kind = body_kind::json;
  std::string body;                                   // json
  std::vector<std::string> events;                    // sse: data payloads
  std::chrono::system_clock::time_point stored_at{};  // wall clock: shared across replicas
  std::chrono::milliseconds ttl{0};
  std::chrono::milliseconds stale_if_error{0};
  std::string request_hash;  // idempotency records: fingerprint of the request (idempotency.hpp)

  /// Bytes the upstream's payload takes (body, or the sum of event payloads).
  uint64_t payload_bytes() const noexcept;
  /// Approximate heap footprint, what the memory tier charges for it.
  uint64_t footprint() const noexcept;
};

using entry_ptr = std::shared_ptr<const entry>;

/// json for application/json and any */*+json, sse for text/event-stream; parameters and case
/// ignored. nullopt for anything else.
std::optional<body_kind> kind_of(std::string_view content_type) noexcept;

/// Whether a response with this head can be stored: 2xx, JSON or event stream, no content
/// encoding (or identity), and a declared length (if any) within `max_object_bytes`. Decided
/// before the body is seen so the data path can send `Cache-Status: ...; stored` in the head.
bool storable_head(int status, std::string_view content_type, std::string_view content_encoding,
                   std::optional<uint64_t> content_length, uint64_t max_object_bytes) noexcept;

/// Collects an upstream response into an entry as it streams through. Not thread-safe.
class entry_builder {
 public:
  explicit entry_builder(uint64_t max_object_bytes) : max_bytes_(max_object_bytes) {}

  /// Starts the entry. not_storable for a content type the cache cannot keep (any status is
  /// accepted here: coalesced followers get non-2xx answers too; see storable()).
  error_code begin(int status, std::string_view content_type);
  /// Appends body bytes (identity-decoded). too_large once past max_object_bytes; the builder
  /// is then dead and every later call returns the same error.
  error_code append(std::string_view bytes);
  /// The entry so far: for an event stream, `events` holds every event completed so far.
  const entry& current() const noexcept { return e_; }
  error_code state() const noexcept { return failed_; }
  /// Ends the body; the built entry (nullptr after an error).
  std::shared_ptr<entry> finish();

 private:
  uint64_t max_bytes_;
  entry e_;
  sse_parser sse_;
  uint64_t bytes_ = 0;
  bool begun_ = false;
  error_code failed_;
};

/// Whether a finished entry may be stored: 2xx, and for JSON a body that parses.
bool storable(const entry& e) noexcept;

/// Compact binary form for Redis (little-endian; "SWC1" magic, then fixed fields, then
/// length-prefixed strings; request_hash, when not empty, as a trailing string). deserialize()
/// checks every length; corrupt_entry on mismatch.
std::string serialize(const entry& e);
error_code deserialize(std::string_view bytes, entry& out);

}  // namespace spillway::cache
