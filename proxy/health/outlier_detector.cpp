#include "proxy/health/outlier_detector.hpp"

#include <algorithm>
#include <cmath>

namespace spillway::health {

outlier_detector::outlier_detector(const config::outlier_detection_config& cfg,
                                   const clock_source& clock,
                                   std::vector<upstream::endpoint*> endpoints)
    : cfg_(cfg),
      clock_(clock),
      endpoints_(std::move(endpoints)),
      max_ejected_(std::max<std::size_t>(
          1, static_cast<std::size_t>(std::floor(std::clamp(cfg.max_ejection_percent, 0.0, 1.0) *
                                                 static_cast<double>(endpoints_.size()))))),
      slots_(std::make_unique<slot[]>(endpoints_.size())) {}

bool outlier_detector::report(std::size_t index, outcome o) {
  slot& s = slots_[index];
  if (o == outcome::success) {
    // Read first: most requests succeed and the cache line stays shared.
    if (s.consecutive.load(std::memory_order_relaxed) != 0)
      s.consecutive.store(0, std::memory_order_relaxed);
    return false;
  }
  const uint32_t n = s.consecutive.fetch_add(1, std::memory_order_relaxed) + 1;
  if (cfg_.consecutive_5xx == 0 || n < cfg_.consecutive_5xx) return false;
  std::lock_guard lock(mutex_);
  return try_eject_locked(index, clock_.now());
}

bool outlier_detector::try_eject_locked(std::size_t index, steady_time now) {
  slot& s = slots_[index];
  if (s.ejected || ejected_now_ >= max_ejected_) return false;
  s.ejected = true;
  ++s.ejections;
  const auto length = std::min<std::chrono::nanoseconds>(
      std::chrono::nanoseconds(cfg_.base_ejection_time) * s.ejections, cfg_.max_ejection_time);
  s.until = now + length;
  s.last_change = now;
  s.consecutive.store(0, std::memory_order_relaxed);
  ++ejected_now_;
  set_bit(index, true);
  return true;
}

void outlier_detector::sweep() {
  const steady_time now = clock_.now();
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    slot& s = slots_[i];
    if (s.ejected) {
      if (now < s.until) continue;
      s.ejected = false;
      s.last_change = now;
      s.consecutive.store(0, std::memory_order_relaxed);
      --ejected_now_;
      set_bit(i, false);
    } else if (s.ejections > 0 && now - s.last_change >= cfg_.interval) {
      --s.ejections;
      s.last_change = now;
    }
  }
}

std::optional<steady_time> outlier_detector::next_deadline() const {
  std::lock_guard lock(mutex_);
  std::optional<steady_time> first;
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    if (slots_[i].ejected && (!first || slots_[i].until < *first)) first = slots_[i].until;
  }
  return first;
}

bool outlier_detector::ejected(std::size_t index) const {
  std::lock_guard lock(mutex_);
  return slots_[index].ejected;
}

uint32_t outlier_detector::ejection_count(std::size_t index) const {
  std::lock_guard lock(mutex_);
  return slots_[index].ejections;
}

std::size_t outlier_detector::ejected_count() const {
  std::lock_guard lock(mutex_);
  return ejected_now_;
}

void outlier_detector::adopt(const outlier_detector& previous,
                             const std::vector<int>& previous_index) {
  std::scoped_lock lock(mutex_, previous.mutex_);
  for (std::size_t i = 0; i < endpoints_.size() && i < previous_index.size(); ++i) {
    const int p = previous_index[i];
    if (p < 0 || static_cast<std::size_t>(p) >= previous.endpoints_.size()) continue;
    const slot& from = previous.slots_[static_cast<std::size_t>(p)];
    slot& to = slots_[i];
    to.consecutive.store(from.consecutive.load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
    to.ejected = from.ejected;
    to.ejections = from.ejections;
    to.until = from.until;
    to.last_change = from.last_change;
    if (to.ejected) ++ejected_now_;
  }
}

void outlier_detector::detach() {
  std::lock_guard lock(mutex_);
  detached_ = true;
}

void outlier_detector::set_bit(std::size_t index, bool on) {
  upstream::endpoint* e = endpoints_[index];
  if (e == nullptr || detached_) return;
  if (on)
    e->unavailable.fetch_or(upstream::ejected, std::memory_order_relaxed);
  else
    e->unavailable.fetch_and(~uint32_t{upstream::ejected}, std::memory_order_relaxed);
}

}  // namespace spillway::health
