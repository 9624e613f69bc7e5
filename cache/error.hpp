// Error codes of the response cache (own category, so they never collide with the proxy's).
// Every failure of the cache is soft: the data path treats it as a miss and goes upstream.
#pragma once

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace spillway::cache {

using boost::system::error_code;

enum class cache_errc {
  ok = 0,
  // Redis tier
  redis_timeout = 1,      // no reply within redis.timeout
  redis_not_connected,    // connecting or waiting to reconnect: skipped at once
  redis_connection_lost,  // the connection broke with the command outstanding
  redis_error_reply,      // Redis answered with an error
  redis_bad_reply,        // a reply of an unexpected type
  stopped,                // the client or cache was stopped
  // entries
  corrupt_entry = 100,  // a stored entry failed to decode
  too_large,            // over max_object_bytes
  not_storable,         // status or content type the cache does not keep
  render_failed,        // entry cannot be shown in the asked form
  // coalescing
  leader_failed = 200,  // the request that went upstream failed
  leader_abandoned,     // ... or went away without finishing
  flight_timeout,       // no progress from the leader within the idle timeout
};

const boost::system::error_category& cache_category() noexcept;

inline error_code make_error_code(cache_errc e) noexcept {
  return {static_cast<int>(e), cache_category()};
}

}  // namespace spillway::cache

namespace boost::system {
template <>
struct is_error_code_enum<spillway::cache::cache_errc> : std::true_type {};
}  // namespace boost::system
