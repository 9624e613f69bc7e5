#include "proxy/upstream/cluster.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/log.hpp"
#include "proxy/upstream/carry_over.hpp"

namespace spillway::upstream {

cluster::cluster(const config::cluster_config& cfg, size_t index, const clock_source& clock)
    : cfg_(cfg), index_(index), clock_(clock), queue_(cfg.queue, clock) {
  build(nullptr, std::vector<int>(cfg.endpoints.size(), -1));
}

cluster::cluster(const config::cluster_config& cfg, size_t index, cluster& previous,
                 const clock_source& clock)
    : cfg_(cfg), index_(index), clock_(clock), queue_(cfg.queue, clock) {
  const auto previous_index =
      match_endpoints(endpoint_addresses(previous.cfg_), endpoint_addresses(cfg));
  // Replaced policies stop writing bits on the endpoints that stay before those bits are reset.
  const bool keep_breakers = cfg.circuit_breaker && previous.cfg_.circuit_breaker &&
                             same_breaker(*previous.cfg_.circuit_breaker, *cfg.circuit_breaker);
  if (!keep_breakers)
    for (auto& b : previous.breakers_) b->detach();
  if (previous.outliers_) previous.outliers_->detach();
  build(&previous, previous_index);
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const int p = previous_index[i];
    if (p < 0) continue;
    std::lock_guard lock(previous.addresses_mutex_);
    addresses_[i] = previous.addresses_[static_cast<size_t>(p)];
  }
  if (previous.outliers_ && outliers_) outliers_->adopt(*previous.outliers_, previous_index);
  // Bits of a policy that is gone now would never be cleared.
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (previous_index[i] < 0) continue;
    uint32_t clear = 0;
    if (!cfg.circuit_breaker) clear |= breaker_open;
    if (!cfg.outlier_detection) clear |= upstream::ejected;
    if (!cfg.health_check) clear |= health_unknown | unhealthy;
    if (clear) endpoints_[i]->unavailable.fetch_and(~clear, std::memory_order_relaxed);
  }
}

void cluster::build(const cluster* previous, const std::vector<int>& previous_index) {
  const auto& cfg = cfg_;
  for (size_t i = 0; i < cfg.endpoints.size(); ++i) {
    const auto& e = cfg.endpoints[i];
    const int p = previous_index[i];
    const uint32_t cap = e.max_concurrent.value_or(cfg.max_concurrent.value_or(0));
    if (p >= 0) {
      const size_t pi = static_cast<size_t>(p);
      auto shared = previous->endpoints_[pi];
      shared->weight.store(e.weight, std::memory_order_relaxed);
      shared->max_concurrent.store(cap, std::memory_order_relaxed);
      endpoints_.push_back(std::move(shared));
      ramps_.emplace_back(cfg.slow_start, weight_scale);
      ramps_.back().continue_from(previous->ramps_[pi]);
      if (!ramps_.back().ramping())
        endpoints_.back()->effective_weight.store(e.weight * weight_scale,
                                                  std::memory_order_relaxed);
    } else {
      auto hp = config::parse_host_port(e.address).value_or(config::host_port{});
      endpoints_.push_back(std::make_shared<endpoint>(e.address, hp, e.weight, cap));
      endpoints_.back()->effective_weight.store(e.weight * weight_scale, std::memory_order_relaxed);
      ramps_.emplace_back(cfg.slow_start, weight_scale);
    }
    queues_ = queues_ || cap != 0;
    raw_.push_back(endpoints_.back().get());
  }
  addresses_.resize(endpoints_.size());
  // Endpoints start unknown under health checks; slow start applies once they first turn
  // healthy. Endpoints that stay keep what control_tick last saw.
  was_available_.assign(endpoints_.size(), !cfg.health_check);
  for (size_t i = 0; i < endpoints_.size(); ++i)
    if (previous_index[i] >= 0)
      was_available_[i] = previous->was_available_[static_cast<size_t>(previous_index[i])];
  if (cfg.circuit_breaker) {
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      const int p = previous_index[i];
      if (p >= 0 && previous->cfg_.circuit_breaker &&
          same_breaker(*previous->cfg_.circuit_breaker, *cfg.circuit_breaker)) {
        breakers_.push_back(previous->breakers_[static_cast<size_t>(p)]);
        continue;
      }
      if (p >= 0)  // a new breaker starts closed
        endpoints_[i]->unavailable.fetch_and(~uint32_t{breaker_open}, std::memory_order_relaxed);
      breakers_.push_back(std::make_shared<breaker::circuit_breaker>(*cfg.circuit_breaker, clock_,
                                                                     endpoints_[i].get()));
    }
  }
  if (cfg.outlier_detection)
    outliers_ = std::make_unique<health::outlier_detector>(*cfg.outlier_detection, clock_, raw_);
  if (cfg.health_check) {
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      const int p = previous_index[i];
      if (p < 0) {
        health_.push_back(
            std::make_unique<health::health_state>(*cfg.health_check, endpoints_[i].get()));
        continue;
      }
      const auto& before = previous->health_;
      health_.push_back(std::make_unique<health::health_state>(
          *cfg.health_check, endpoints_[i].get(),
          before.empty() ? nullptr : before[static_cast<size_t>(p)].get()));
    }
  }
}

breaker::circuit_breaker::ticket cluster::admit(size_t i) {
  if (breakers_.empty()) return {true, false, 0};
  return breakers_[i]->try_admit();
}

void cluster::report(size_t i, const breaker::circuit_breaker::ticket& t, try_result r) {
  if (!breakers_.empty() && t.admitted) {
    if (r == try_result::cancelled)
      breakers_[i]->abandon(t);
    else
      breakers_[i]->record(t, r == try_result::success);
  }
  if (outliers_) {
    switch (r) {
      case try_result::success:
        outliers_->report(i, health::outcome::success);
        break;
      case try_result::connect_failure:
        outliers_->report(i, health::outcome::connect_failure);
        break;
      case try_result::server_error:
      case try_result::timeout:
      case try_result::reset:
        outliers_->report(i, health::outcome::server_error);
        break;
      case try_result::cancelled:
        break;
    }
  }
}

bool cluster::has_free_slot() const noexcept {
  for (const auto& e : endpoints_)
    if (e->available() && !e->at_capacity()) return true;
  return false;
}

void cluster::wake_waiter() {
  while (queue_.size() > 0) {
    auto h = queue_.pop();
    if (!h) return;
    if (auto r = h->lock()) {
      r->on_dequeued();
      return;
    }
    // The waiter went away without cancelling; try the next one.
  }
}

breaker::breaker_state cluster::breaker_state(size_t i) const noexcept {
  return breakers_.empty() ? breaker::breaker_state::closed : breakers_[i]->state();
}

bool cluster::ejected(size_t i) const {
  return outliers_ && outliers_->ejected(i);
}

health::health_status cluster::health(size_t i) const noexcept {
  return health_.empty() ? health::health_status::healthy : health_[i]->status();
}

void cluster::control_tick() {
  for (auto& b : breakers_) b->refresh();
  if (outliers_) outliers_->sweep();
  const auto now = clock_.now();
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    endpoint& e = *endpoints_[i];
    const bool available = e.available();
    if (available && !was_available_[i] && cfg_.slow_start.count() > 0) ramps_[i].start(now);
    was_available_[i] = available;
    if (ramps_[i].ramping()) ramps_[i].update(e, now);
  }
  wake_for_free_slots();
}

void cluster::wake_for_free_slots() {
  // Safety net: a waiter whose wake-up was lost to a race gets it here.
  if (queue_.size() == 0) return;
  size_t free_slots = 0;
  for (const auto& ep : endpoints_) {
    const endpoint& e = *ep;
    if (!e.available()) continue;
    const uint32_t cap = e.max_concurrent.load(std::memory_order_relaxed);
    if (cap == 0)
      free_slots += queue_.size();
    else if (!e.at_capacity())
      free_slots += cap - static_cast<uint32_t>(e.active.load(std::memory_order_relaxed));
  }
  for (size_t n = std::min(free_slots, queue_.size()); n > 0; --n) wake_waiter();
}

size_t cluster::resolve_all() {
  boost::asio::io_context ioc;
  tcp::resolver resolver(ioc);
  size_t missing = 0;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const auto& target = endpoints_[i]->target;
    boost::system::error_code ec;
    auto results = resolver.resolve(target.host, std::to_string(target.port),
                                    tcp::resolver::numeric_service, ec);
    std::vector<tcp::endpoint> found;
    if (!ec)
      for (const auto& r : results) found.push_back(r.endpoint());
    std::lock_guard lock(addresses_mutex_);
    if (!found.empty()) {
      addresses_[i] = std::move(found);
    } else {
      log::warn("cluster {}: cannot resolve {}: {}", cfg_.name, endpoints_[i]->address,
                ec ? ec.message() : "no addresses");
    }
    if (addresses_[i].empty()) ++missing;
  }
  return missing;
}

std::vector<tcp::endpoint> cluster::addresses(size_t i) const {
  std::lock_guard lock(addresses_mutex_);
  return addresses_[i];
}

}  // namespace spillway::upstream
