// The shared cache tier behind the memory one, as an interface: redis_client implements it,
// tests use a fake. Keys are given without the store's own prefix (redis.key_prefix).
//
// Every method may be called from any thread and returns at once; the handler runs later
// through the caller's dispatcher, exactly once, never inline, within the store's timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "cache/dispatch.hpp"
#include "cache/error.hpp"

namespace spillway::cache {

class remote_store {
 public:
  /// value: nullopt when the key is absent (not an error).
  using get_handler = std::function<void(error_code, std::optional<std::string> value)>;
  using set_handler = std::function<void(error_code)>;
  using purge_handler = std::function<void(error_code, uint64_t removed)>;

  virtual ~remote_store() = default;

  virtual void get(std::string key, dispatcher d, get_handler h) = 0;
  /// Stores with an expiry of `ttl` (at least 1 ms). An empty handler is allowed
  /// (fire and forget); `d` is then unused.
  virtual void set(std::string key, std::string value, std::chrono::milliseconds ttl, dispatcher d,
                   set_handler h) = 0;
  /// Removes every key starting with `prefix` ("" removes all of this store's keys).
  virtual void purge(std::string prefix, dispatcher d, purge_handler h) = 0;
};

}  // namespace spillway::cache
