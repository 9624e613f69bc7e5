#include "proxy/balancer/least_load.hpp"

#include <algorithm>

namespace spillway::balancer {

least_load::least_load(const endpoint_set& endpoints, const health::load_report_store* reports,
                       const clock_source& clock, least_load_options options)
    : endpoints_(endpoints),
      reports_(reports != nullptr && reports->size() == endpoints.size() ? reports : nullptr),
      clock_(clock),
      options_(options),
      candidates_(endpoints.size()),
      tied_(endpoints.size()),
      wrr_(endpoints.size()) {}

least_load::score least_load::score_of(int i, steady_time now) const noexcept {
  const int64_t active = active_of(*endpoints_[i]);
  if (reports_ == nullptr) return {static_cast<uint64_t>(active + 1) * 1000, false};
  const health::load_view v = reports_->read(static_cast<std::size_t>(i), now);
  if (!v.fresh) return {static_cast<uint64_t>(active + 1) * 1000, false};
  const int64_t reported = int64_t{v.running} + v.waiting;
  const int64_t queued = std::max(active, reported + active - int64_t{v.active_at_scrape});
  const bool saturated =
      v.kv_permille >= options_.saturated_kv_permille || v.waiting > options_.saturated_waiting;
  return {static_cast<uint64_t>(queued + 1) * (1000 + v.kv_permille), saturated};
}

int least_load::pick(const pick_context& ctx) {
  const std::span<const int> excluded = ctx.excluded;
  const steady_time now = reports_ != nullptr ? clock_.now() : steady_time{};
  candidate* cand = candidates_.data();
  std::size_t count = 0;
  bool any_unsaturated = false;
  const int n = static_cast<int>(endpoints_.size());
  for (int i = 0; i < n; ++i) {
    const upstream::endpoint& e = *endpoints_[i];
    if (!eligible_in(e, i, excluded)) continue;
    const score s = score_of(i, now);
    cand[count++] = {i, weight_of(e), s.load, s.saturated};
    any_unsaturated |= !s.saturated;
  }

  // Lowest load / weight within the tier (unsaturated ones if any), compared exactly.
  using u128 = unsigned __int128;
  weighted_index* tied = tied_.data();
  std::size_t ntied = 0;
  uint64_t best_load = 0;
  uint32_t best_weight = 1;
  for (std::size_t k = 0; k < count; ++k) {
    const candidate& c = cand[k];
    if (any_unsaturated && c.saturated) continue;
    const u128 mine = u128{c.load} * best_weight, best = u128{best_load} * c.weight;
    if (ntied > 0 && mine > best) continue;
    if (ntied == 0 || mine < best) {
      ntied = 0;
      best_load = c.load;
      best_weight = c.weight;
    }
    tied[ntied++] = {c.index, c.weight};
  }
  if (ntied <= 1) return ntied == 0 ? -1 : tied[0].index;
  return wrr_.choose({tied, ntied});
}

}  // namespace spillway::balancer
