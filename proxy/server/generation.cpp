#include "proxy/server/generation.hpp"

#include "proxy/upstream/carry_over.hpp"

namespace spillway::server {

generation::generation(std::shared_ptr<const runtime> rt, xoshiro256& rng) : rt_(std::move(rt)) {
  for (size_t i = 0; i < rt_->clusters.size(); ++i) {
    const upstream::cluster* c = rt_->clusters[i].get();
    const cluster_policy& policy = *rt_->policies[i];
    const auto& acfg = c->config().affinity;
    balancers_.push_back(balancer::make_balancer(c->config().balancer, c->endpoint_set(),
                                                 rng.next(),
                                                 {.reports = policy.reports.get(),
                                                  .balance_factor = acfg.balance_factor,
                                                  .balance_floor = acfg.balance_floor}));
    pickers_.push_back(acfg.key == config::affinity_key_kind::none
                           ? nullptr
                           : std::make_unique<affinity::affinity_picker>(
                                 acfg, c->config().balancer, c->endpoint_set(), *balancers_.back(),
                                 policy.signer.get()));
    pools_.push_back(std::make_unique<upstream_pool::connection_pool>(
        c->size(), c->config().pool.max_idle, c->config().pool.idle_timeout));
  }
}

void generation::adopt_idle(generation& previous) {
  const runtime& before = previous.rt();
  for (size_t c = 0; c < rt_->clusters.size(); ++c) {
    const int p = before.cluster_index(rt_->clusters[c]->name());
    if (p < 0) continue;
    const auto map =
        upstream::match_endpoints(upstream::endpoint_addresses(before.clusters[p]->config()),
                                  upstream::endpoint_addresses(rt_->clusters[c]->config()));
    for (size_t e = 0; e < map.size(); ++e)
      if (map[e] >= 0) pools_[c]->adopt(e, *previous.pools_[p], static_cast<size_t>(map[e]));
  }
  for (auto& pool : previous.pools_) pool->clear();
}

}  // namespace spillway::server
