#include "proxy/upstream/cluster.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/log.hpp"

namespace spillway::upstream {

cluster::cluster(const config::cluster_config& cfg, size_t index, const clock_source& clock)
    : cfg_(cfg), index_(index), clock_(clock), queue_(cfg.queue, clock) {
  for (const auto& e : cfg.endpoints) {
    auto hp = config::parse_host_port(e.address).value_or(config::host_port{});
    uint32_t cap = e.max_concurrent.value_or(cfg.max_concurrent.value_or(0));
    endpoints_.push_back(std::make_unique<endpoint>(e.address, hp, e.weight, cap));
    queues_ = queues_ || cap != 0;
    endpoints_.back()->effective_weight.store(e.weight * weight_scale, std::memory_order_relaxed);
    raw_.push_back(endpoints_.back().get());
    ramps_.emplace_back(cfg.slow_start, weight_scale);
  }
  addresses_.resize(endpoints_.size());
  was_available_.assign(endpoints_.size(), true);
  if (cfg.circuit_breaker)
    for (auto& e : endpoints_)
      breakers_.push_back(
          std::make_unique<breaker::circuit_breaker>(*cfg.circuit_breaker, clock_, e.get()));
  if (cfg.outlier_detection)
    outliers_ = std::make_unique<health::outlier_detector>(*cfg.outlier_detection, clock_, raw_);
  if (cfg.health_check) {
    for (auto& e : endpoints_)
      health_.push_back(std::make_unique<health::health_state>(*cfg.health_check, e.get()));
    // Endpoints start unknown; slow start applies once they first turn healthy.
    was_available_.assign(endpoints_.size(), false);
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
  size_t free_slots = 0;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    endpoint& e = *endpoints_[i];
    const bool available = e.available();
    if (available && !was_available_[i] && cfg_.slow_start.count() > 0) ramps_[i].start(now);
    was_available_[i] = available;
    if (ramps_[i].ramping()) ramps_[i].update(e, now);
    if (available) {
      if (e.max_concurrent == 0)
        free_slots += queue_.size();
      else if (!e.at_capacity())
        free_slots +=
            e.max_concurrent - static_cast<uint32_t>(e.active.load(std::memory_order_relaxed));
    }
  }
  // Safety net: a waiter whose wake-up was lost to a race gets it here.
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
