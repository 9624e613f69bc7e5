// A dispatcher for tests: tasks queue up and run when the test says so, on the test's thread.
#pragma once

#include <deque>
#include <mutex>

#include "cache/dispatch.hpp"

namespace spillway::cache::test {

class task_queue {
 public:
  dispatcher get() {
    return [this](task t) {
      std::lock_guard lock(mu_);
      q_.push_back(std::move(t));
    };
  }
  /// Runs queued tasks (and any they queue) until none are left; returns how many ran.
  size_t run() {
    size_t n = 0;
    for (;;) {
      task t;
      {
        std::lock_guard lock(mu_);
        if (q_.empty()) return n;
        t = std::move(q_.front());
        q_.pop_front();
      }
      t();
      ++n;
    }
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return q_.size();
  }

 private:
  std::mutex mu_;
  std::deque<task> q_;
};

}  // namespace spillway::cache::test
