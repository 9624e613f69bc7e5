#include "proxy/breaker/circuit_breaker.hpp"

#include <algorithm>

namespace spillway::breaker {

const char* to_string(breaker_state s) noexcept {
  switch (s) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
  }
  return "?";
}

circuit_breaker::circuit_breaker(const config::circuit_breaker_config& cfg,
                                 const clock_source& clock, upstream::endpoint* target,
                                 uint32_t buckets)
    : cfg_(cfg),
      clock_(clock),
      target_(target),
      bucket_width_(std::max<std::chrono::nanoseconds>(
          std::chrono::nanoseconds(cfg.window) / std::max<uint32_t>(buckets, 1),
          std::chrono::nanoseconds(1))),
      buckets_(std::max<uint32_t>(buckets, 1)) {}

int64_t circuit_breaker::slot_of(steady_time t) const noexcept {
  return t.time_since_epoch() / bucket_width_;
}

circuit_breaker::ticket circuit_breaker::try_admit() {
  if (state() == breaker_state::closed) return {true, false, 0};  // fast path, no lock
  std::lock_guard lock(mutex_);
  switch (state()) {
    case breaker_state::closed:
      return {true, false, 0};
    case breaker_state::open:
      if (clock_.now() - opened_at_ < cfg_.open_duration) return {};
      half_open_locked();
      [[fallthrough]];
    case breaker_state::half_open:
      if (probes_in_flight_ + probe_successes_ >= std::max<uint32_t>(cfg_.half_open_requests, 1))
        return {};
      ++probes_in_flight_;
      return {true, true, round_};
  }
  return {};
}

void circuit_breaker::record(const ticket& t, bool success) {
  if (!t.admitted) return;
  std::lock_guard lock(mutex_);
  if (t.probe) {
    // A probe from an earlier round (or after the breaker already moved on) says nothing.
    if (t.round != round_ || state() != breaker_state::half_open) return;
    --probes_in_flight_;
    if (!success) return open_locked(clock_.now());
    if (++probe_successes_ >= std::max<uint32_t>(cfg_.half_open_requests, 1)) close_locked();
    return;
  }
  // Outcomes of requests admitted while closed count only while still closed.
  if (state() != breaker_state::closed) return;
  const steady_time now = clock_.now();
  const int64_t slot = slot_of(now);
  bucket& b = buckets_[static_cast<std::size_t>(slot) % buckets_.size()];
  if (b.slot != slot) b = {slot, 0, 0};
  ++b.requests;
  if (success) return;
  ++b.failures;
  const window_totals w = totals_locked(slot);
  if (w.requests >= cfg_.min_requests &&
      static_cast<double>(w.failures) >= cfg_.error_rate * static_cast<double>(w.requests))
    open_locked(now);
}

void circuit_breaker::abandon(const ticket& t) {
  if (!t.admitted || !t.probe) return;
  std::lock_guard lock(mutex_);
  if (t.round == round_ && state() == breaker_state::half_open && probes_in_flight_ > 0)
    --probes_in_flight_;
}

breaker_state circuit_breaker::refresh() {
  if (state() != breaker_state::open) return state();
  std::lock_guard lock(mutex_);
  if (state() == breaker_state::open && clock_.now() - opened_at_ >= cfg_.open_duration)
    half_open_locked();
  return state();
}

std::optional<steady_time> circuit_breaker::reopen_at() const {
  std::lock_guard lock(mutex_);
  if (state() != breaker_state::open) return std::nullopt;
  return opened_at_ + cfg_.open_duration;
}

circuit_breaker::window_totals circuit_breaker::totals() const {
  std::lock_guard lock(mutex_);
  return totals_locked(slot_of(clock_.now()));
}

circuit_breaker::window_totals circuit_breaker::totals_locked(int64_t now_slot) const {
  // A bucket counts while its slot is one of the last buckets_.size() slots.
  const int64_t oldest = now_slot - static_cast<int64_t>(buckets_.size()) + 1;
  window_totals w;
  for (const bucket& b : buckets_) {
    if (b.slot < oldest || b.slot > now_slot) continue;
    w.requests += b.requests;
    w.failures += b.failures;
  }
  return w;
}

void circuit_breaker::open_locked(steady_time now) {
  opened_at_ = now;
  ++round_;
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  set_state_locked(breaker_state::open);
}

void circuit_breaker::half_open_locked() {
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  set_state_locked(breaker_state::half_open);
}

void circuit_breaker::close_locked() {
  std::fill(buckets_.begin(), buckets_.end(), bucket{});
  set_state_locked(breaker_state::closed);
}

void circuit_breaker::detach() {
  std::lock_guard lock(mutex_);
  target_ = nullptr;
}

void circuit_breaker::set_state_locked(breaker_state s) {
  state_.store(s, std::memory_order_relaxed);
  if (target_ == nullptr) return;
  if (s == breaker_state::open)
    target_->unavailable.fetch_or(upstream::breaker_open, std::memory_order_relaxed);
  else
    target_->unavailable.fetch_and(~uint32_t{upstream::breaker_open}, std::memory_order_relaxed);
}

}  // namespace spillway::breaker
