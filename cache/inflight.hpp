// Request coalescing (SPEC §2.2: identical requests in flight at once go upstream once).
// The first request for a key becomes the leader and goes upstream; requests for the same key
// that arrive meanwhile become followers and get the leader's answer as it arrives:
//
//   head     status, content type, body kind (once the upstream's head is known)
//   data     one event-stream `data` payload, in order (event streams only)
//   complete the whole answer as an entry (its last event: nothing follows)
//   error    the leader failed, gave up, went away, or made no progress for idle_timeout
//            (its last event). Nothing has gone to the follower's client if it only waited for
//            `complete`, so it may go upstream itself.
//
// A follower that joins late first gets what it missed (head, past data) and then the rest
// live, so every follower sees the same sequence. A flight over max_object_bytes, or with a
// content type the cache cannot keep, fails its followers (not_storable / too_large) and
// leaves the table; the leader's own response is not affected.
//
// Threading: join() and every handle method may be called from any thread. Events reach a
// follower through its dispatcher (dispatch.hpp), never inline, in order. Lock order is
// table, then flight. expire() must be called periodically (response_cache does it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache/dispatch.hpp"
#include "cache/entry.hpp"
#include "common/clock.hpp"

namespace spillway::cache {

struct flight_event {
  enum class type : uint8_t { head, data, complete, error };
  type t = type::error;
  int status = 0;            // head
  std::string content_type;  // head
  body_kind kind = body_kind::json;
  std::string data;  // data
  entry_ptr result;  // complete
  error_code ec;     // error
};

using flight_listener = std::function<void(const flight_event&)>;

struct entry_times {
  std::chrono::system_clock::time_point stored_at{};
  std::chrono::milliseconds ttl{0};
  std::chrono::milliseconds stale_if_error{0};
  std::string request_hash{};  // idempotency records (entry::request_hash)
};

class inflight_table;
namespace detail {
struct flight;
struct follower;
}  // namespace detail

/// The leader's handle. Move-only; destroying it unfinished fails the flight
/// (leader_abandoned) and removes it from the table.
class flight_leader {
 public:
  flight_leader() = default;
  flight_leader(flight_leader&&) noexcept = default;
  flight_leader& operator=(flight_leader&& o) noexcept;
  ~flight_leader();

  /// The upstream's response head. not_storable: the flight failed (content type not kept);
  /// carry on serving the client, the cache is out of it.
  error_code begin(int status, std::string_view content_type);
  /// Body bytes as they arrive (identity-decoded). An error means the flight failed
  /// (too_large, flight_timeout); later calls are no-ops.
  error_code append(std::string_view bytes);
  /// Ends the body: followers get `complete`. Returns the entry (with `times` set), or nullptr
  /// when the flight had already failed. The flight stays joinable until release().
  entry_ptr finish(const entry_times& times = {});
  /// Fails the followers with `ec` and releases.
  void fail(error_code ec = cache_errc::leader_failed);
  /// Removes the flight from the table (the next request for the key starts afresh).
  void release();

  explicit operator bool() const noexcept { return static_cast<bool>(f_); }
  /// The cache key this flight is for (empty once released).
  const std::string& key() const noexcept;

 private:
  friend class inflight_table;
  flight_leader(inflight_table* t, std::shared_ptr<detail::flight> f)
      : table_(t), f_(std::move(f)) {}

  inflight_table* table_ = nullptr;
  std::shared_ptr<detail::flight> f_;
};

/// A follower's handle. Move-only; cancel() (or destruction) stops further events, including
/// ones already handed to the dispatcher.
class flight_subscription {
 public:
  flight_subscription() = default;
  flight_subscription(flight_subscription&&) noexcept = default;
  flight_subscription& operator=(flight_subscription&& o) noexcept;
  ~flight_subscription() { cancel(); }

  void cancel();
  explicit operator bool() const noexcept { return static_cast<bool>(sub_); }

 private:
  friend class inflight_table;
  flight_subscription(std::shared_ptr<detail::flight> f, std::shared_ptr<detail::follower> s)
      : f_(std::move(f)), sub_(std::move(s)) {}

  std::shared_ptr<detail::flight> f_;
  std::shared_ptr<detail::follower> sub_;
};

struct join_result {
  flight_leader leader;              // set: go upstream and feed it
  flight_subscription subscription;  // set: wait for events
  bool is_leader() const noexcept { return static_cast<bool>(leader); }
};

class inflight_table {
 public:
  struct options {
    uint64_t max_object_bytes = 8ull << 20;
    std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);
  };

  inflight_table(options opt, const clock_source& clock) : opt_(opt), clock_(clock) {}
  ~inflight_table();
  inflight_table(const inflight_table&) = delete;
  inflight_table& operator=(const inflight_table&) = delete;

  /// Leads a new flight for `key`, or follows the one in progress: then `listener` gets its
  /// events through `d`. `d` and `listener` are unused for a leader.
  join_result join(const std::string& key, dispatcher d, flight_listener listener);

  /// Fails flights with no progress for idle_timeout; returns how many.
  size_t expire();
  size_t size() const;

 private:
  friend class flight_leader;
  void remove(const std::shared_ptr<detail::flight>& f);

  options opt_;
  const clock_source& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<detail::flight>> flights_;
};

}  // namespace spillway::cache
