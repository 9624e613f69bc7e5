// The response cache as the data path sees it: two tiers (the in-process memory_store, then a
// remote_store such as Redis), coalescing of identical requests in flight (inflight_table),
// and storing finished answers to both tiers (SPEC §2.2 Cache). See README.md for the exact
// sequence of calls a session makes.
//
// Freshness: an entry is fresh for `ttl` after stored_at, then stale for `stale_if_error`
// (served only when the upstream fails), then gone. stored_at is wall-clock time so replicas
// sharing Redis agree on an entry's age; the memory tier keeps steady-clock deadlines derived
// from that age when it is filled.
//
// Threading: every method may be called from any thread. Asynchronous results come back
// through the caller's dispatcher. The remote store, if any, must outlive the cache.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "cache/cache_status.hpp"
#include "cache/dispatch.hpp"
#include "cache/entry.hpp"
#include "cache/idempotency.hpp"
#include "cache/inflight.hpp"
#include "cache/key_memo.hpp"
#include "cache/memory_store.hpp"
#include "cache/remote_store.hpp"
#include "common/clock.hpp"
#include "config/config.hpp"

namespace spillway::cache {

struct response_cache_options {
  uint64_t memory_max_bytes = 256ull << 20;
  uint64_t max_object_bytes = 8ull << 20;
  size_t shards = 0;  // 0: memory_store::shards_for(memory_max_bytes, max_object_bytes)
  std::chrono::nanoseconds flight_idle_timeout = std::chrono::seconds(60);
  uint64_t key_memo_max_bytes = 4ull << 20;  // key_memo.hpp; 0 turns it off

  static response_cache_options from_config(const config::cache_config& c);
};

using wall_clock = std::function<std::chrono::system_clock::time_point()>;

enum class lookup_state : uint8_t { fresh, stale, miss };

struct lookup_result {
  lookup_state state = lookup_state::miss;
  entry_ptr e;              // the entry when fresh or stale
  error_code remote_error;  // the remote tier failed or timed out (then state is miss)
};

class response_cache {
 public:
  response_cache(response_cache_options opt, const clock_source& clock,
                 std::shared_ptr<remote_store> remote = nullptr, wall_clock wall = nullptr);
  ~response_cache();

  /// The key for a request (make_key()), through the key memo.
  key_result key_for(const key_request& req, const config::route_cache_config& route,
                     std::string_view prefix) {
    return keys_.key_for(req, route, prefix);
  }

  /// Step 1, synchronous: the memory tier.
  lookup_result lookup_memory(std::string_view key);

  /// Step 2: the remote tier (within its timeout). A hit fills the memory tier. Without a
  /// remote store the answer is a miss (still delivered through `d`, never inline).
  void lookup_remote(std::string key, dispatcher d, std::function<void(lookup_result)> done);

  /// Step 3 on a miss: lead a flight (go upstream) or follow the one in progress.
  join_result join(const std::string& key, dispatcher d, flight_listener listener) {
    return flights_.join(key, std::move(d), std::move(listener));
  }

  /// Step 4, the leader's upstream body is complete: finishes the flight (followers get the
  /// answer), stores it in both tiers if storable(), releases the flight. Returns the entry
  /// (nullptr when the flight had failed); `stored` says whether it was kept.
  entry_ptr finish(flight_leader& leader, const config::route_cache_config& route,
                   bool* stored = nullptr);

  /// Stores `e` (its stored_at, ttl and stale_if_error set) in memory and, fire and forget, in
  /// the remote tier. false when the memory tier refused it (too large, already expired).
  bool store(const std::string& key, const entry_ptr& e);

  /// Times for an entry stored now under `route`.
  entry_times times_for(const config::route_cache_config& route) const;

  /// Drops entries whose key starts with `prefix` ("" for all) from both tiers (and the key
  /// memo's items for them). `done` gets
  /// the remote error (if any) and how many entries went from memory and from the remote tier.
  void purge(std::string prefix, dispatcher d,
             std::function<void(error_code, uint64_t memory, uint64_t remote)> done);

  /// Runs flights_.expire() every `period` on `ex` (a thread-safe executor, e.g. the Redis
  /// client's io_context) until stop(). Without it, call expire_flights() from a tick.
  void start_maintenance(boost::asio::any_io_executor ex,
                         std::chrono::nanoseconds period = std::chrono::seconds(1));
  void stop();
  size_t expire_flights() { return flights_.expire(); }

  cache_counters& counters() noexcept { return counters_; }
  idempotency_counters& idempotency() noexcept { return idempotency_; }
  memory_store& memory() noexcept { return memory_; }
  key_memo& keys() noexcept { return keys_; }
  inflight_table& flights() noexcept { return flights_; }
  const response_cache_options& options() const noexcept { return opt_; }

 private:
  lookup_result classify(entry_ptr e) const;
  std::chrono::system_clock::time_point wall_now() const {
    return wall_ ? wall_() : std::chrono::system_clock::now();
  }

  struct maintenance;

  response_cache_options opt_;
  const clock_source& clock_;
  std::shared_ptr<remote_store> remote_;
  wall_clock wall_;
  memory_store memory_;
  key_memo keys_;
  inflight_table flights_;
  cache_counters counters_;
  idempotency_counters idempotency_;
  std::shared_ptr<maintenance> maint_;
};

}  // namespace spillway::cache
