// Priority admission queue of a cluster: requests wait here while every endpoint is at
// max_concurrent (HAProxy's backend queue with priority classes). Waiters are served by class
// (high, normal, low), then by arrival. The queue is bounded by max_size: when it is full a
// newcomer evicts the newest waiter of the lowest class below its own, otherwise it is refused,
// so low priority is shed first. Each waiter has a deadline of arrival + timeout.
//
// The queue stores opaque handles (whatever the data path needs to resume or fail a request:
// a callback, a weak pointer to the session...). It never invokes them: evicted, expired and
// popped handles are handed back to the caller, who resumes or fails them outside any lock.
//
// Threading: admission_queue is not thread-safe; one owner. locked_admission_queue (below)
// is the same interface behind a mutex for queues shared by worker threads.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "proxy/queue/priority.hpp"

namespace spillway::queue {

using ticket = uint64_t;  // identifies one waiter, for cancel(); never 0

template <class Handle>
struct push_result {
  bool admitted = false;
  ticket id = 0;                  // set when admitted
  std::optional<Handle> evicted;  // a lower-priority waiter pushed out: the caller refuses it
};

template <class Handle>
class admission_queue {
 public:
  /// `clock` must outlive the queue.
  admission_queue(const config::queue_config& cfg, const clock_source& clock)
      : max_size_(cfg.max_size), timeout_(cfg.timeout), clock_(clock) {}

  /// Queues `h` in class `c`. Refused (admitted false, `h` dropped) when full of waiters of
  /// class `c` or higher.
  push_result<Handle> push(priority_class c, Handle h) {
    push_result<Handle> r;
    if (size_ >= max_size_) {
      std::deque<entry>* victim = lowest_below(c);
      if (victim == nullptr) return r;
      r.evicted.emplace(std::move(victim->back().handle));
      victim->pop_back();
      --size_;
    }
    r.admitted = true;
    r.id = ++last_id_;
    lane(c).push_back({r.id, clock_.now() + timeout_, std::move(h)});
    ++size_;
    return r;
  }

  /// Removes and returns the next waiter to serve; empty when the queue is empty.
  std::optional<Handle> pop() {
    for (auto& l : lanes_) {
      if (l.empty()) continue;
      std::optional<Handle> h(std::move(l.front().handle));
      l.pop_front();
      --size_;
      return h;
    }
    return std::nullopt;
  }

  /// Removes waiter `id` (its client went away); empty when it is no longer queued. O(size).
  std::optional<Handle> cancel(ticket id) {
    for (auto& l : lanes_) {
      for (auto it = l.begin(); it != l.end(); ++it) {
        if (it->id != id) continue;
        std::optional<Handle> h(std::move(it->handle));
        l.erase(it);
        --size_;
        return h;
      }
    }
    return std::nullopt;
  }

  /// Moves every waiter whose deadline has passed into `out` (oldest first within a class);
  /// returns how many. Deadlines grow with arrival inside a class, so only lane fronts are read.
  std::size_t expire(std::vector<Handle>& out) {
    const steady_time now = clock_.now();
    std::size_t n = 0;
    for (auto& l : lanes_) {
      while (!l.empty() && l.front().deadline <= now) {
        out.push_back(std::move(l.front().handle));
        l.pop_front();
        --size_;
        ++n;
      }
    }
    return n;
  }

  /// Earliest waiter deadline; empty when the queue is empty.
  std::optional<steady_time> next_deadline() const {
    std::optional<steady_time> first;
    for (const auto& l : lanes_)
      if (!l.empty() && (!first || l.front().deadline < *first)) first = l.front().deadline;
    return first;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t size(priority_class c) const noexcept { return lanes_[index(c)].size(); }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return max_size_; }

 private:
  struct entry {
    ticket id;
    steady_time deadline;
    Handle handle;
  };

  static std::size_t index(priority_class c) noexcept { return static_cast<std::size_t>(c); }
  std::deque<entry>& lane(priority_class c) { return lanes_[index(c)]; }

  /// The lowest-priority non-empty lane strictly below class `c`, or null.
  std::deque<entry>* lowest_below(priority_class c) {
    for (std::size_t i = priority_class_count; i-- > index(c) + 1;)
      if (!lanes_[i].empty()) return &lanes_[i];
    return nullptr;
  }

  const std::size_t max_size_;
  const config::duration timeout_;
  const clock_source& clock_;
  std::array<std::deque<entry>, priority_class_count> lanes_;  // indexed by priority_class
  std::size_t size_ = 0;
  ticket last_id_ = 0;
};

/// admission_queue behind a mutex: every call locks once; handles come back to the caller and
/// are resumed or failed after the lock is released.
template <class Handle>
class locked_admission_queue {
 public:
  locked_admission_queue(const config::queue_config& cfg, const clock_source& clock)
      : q_(cfg, clock) {}

  push_result<Handle> push(priority_class c, Handle h) {
    std::lock_guard lock(mutex_);
    return q_.push(c, std::move(h));
  }
  std::optional<Handle> pop() {
    std::lock_guard lock(mutex_);
    return q_.pop();
  }
  std::optional<Handle> cancel(ticket id) {
    std::lock_guard lock(mutex_);
    return q_.cancel(id);
  }
  std::size_t expire(std::vector<Handle>& out) {
    std::lock_guard lock(mutex_);
    return q_.expire(out);
  }
  std::optional<steady_time> next_deadline() const {
    std::lock_guard lock(mutex_);
    return q_.next_deadline();
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return q_.size();
  }
  std::size_t size(priority_class c) const {
    std::lock_guard lock(mutex_);
    return q_.size(c);
  }

 private:
  mutable std::mutex mutex_;
  admission_queue<Handle> q_;
};

}  // namespace spillway::queue
