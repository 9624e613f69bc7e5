#include "proxy/affinity/affinity_picker.hpp"

#include <algorithm>

#include "proxy/balancer/balancer_options.hpp"
#include "proxy/balancer/key_hash.hpp"

namespace spillway::affinity {
namespace {

bool contains(std::span<const int> list, int i) noexcept {
  return std::find(list.begin(), list.end(), i) != list.end();
}

}  // namespace

affinity_pick on_pinned_unavailable(config::on_unavailable_action action,
                                    balancer::hashing_balancer& ring, uint64_t hash, int pinned,
                                    std::span<const int> excluded) {
  if (action == config::on_unavailable_action::fail) return {-1, decision::failed, false};
  const balancer::hash_pick p = ring.pick_hash(hash, excluded, pinned);
  return {p.index, decision::repin, false};
}

affinity_picker::affinity_picker(const config::affinity_config& cfg,
                                 config::balancer_kind cluster_kind,
                                 const balancer::endpoint_set& endpoints,
                                 balancer::balancer& fallback, const cookie_signer* signer,
                                 prefix_options prefix)
    : cfg_(cfg),
      endpoints_(endpoints),
      fallback_(fallback),
      signer_(signer),
      prefix_(prefix),
      ring_(balancer::make_hashing_balancer(cluster_kind, endpoints, cfg.balance_factor,
                                            cfg.balance_floor)) {
  if (enabled()) ring_->build();
  address_hash_.reserve(endpoints.size());
  for (const upstream::endpoint* e : endpoints)
    address_hash_.push_back(balancer::hash64(e->address));
}

int affinity_picker::index_of(std::string_view address) const noexcept {
  for (std::size_t i = 0; i < endpoints_.size(); ++i)
    if (endpoints_[i]->address == address) return static_cast<int>(i);
  return -1;
}

affinity_request affinity_picker::resolve(const http::request_head& head, std::string_view body,
                                          int64_t now_unix) const {
  affinity_request r;
  if (cfg_.key != config::affinity_key_kind::cookie) {
    r.key = affinity_key(cfg_, head, body, prefix_);
    return r;
  }
  if (signer_ == nullptr) return r;
  const auto claim = find_valid_cookie(head.headers, *signer_, now_unix);
  if (!claim) return r;
  r.pinned = index_of(claim->address);  // stale (endpoint gone): -1, pinned afresh
  r.refresh = claim->expires - now_unix < signer_->ttl_seconds() / 2;
  return r;
}

affinity_pick affinity_picker::pick_pinned(int home, uint64_t hash, bool cookie, bool refresh,
                                           std::span<const int> excluded) {
  const upstream::endpoint& e = *endpoints_[home];
  // Excluded and full: the data path lost a race for its last slot (busy, not broken).
  const bool tried = contains(excluded, home);
  if (!e.available() || (tried && !e.at_capacity())) {
    affinity_pick p = on_pinned_unavailable(cfg_.on_unavailable, *ring_, hash, home, excluded);
    p.set_cookie = cookie && p.index >= 0;
    return p;
  }
  if (!tried && !e.at_capacity() &&
      balancer::load_bound::measure(endpoints_, cfg_.balance_factor, cfg_.balance_floor).admits(e))
    return {home, decision::hit, cookie && refresh};
  const balancer::hash_pick p = ring_->pick_hash(hash, excluded, home);
  return {p.index, decision::spill, false};
}

affinity_pick affinity_picker::pick(const affinity_request& req, std::span<const int> excluded) {
  const balancer::pick_context ctx{.excluded = excluded};
  if (cfg_.key == config::affinity_key_kind::cookie) {
    if (req.pinned < 0 || req.pinned >= static_cast<int>(endpoints_.size())) {
      const int i = fallback_.pick(ctx);
      return {i, decision::new_pin, i >= 0};
    }
    return pick_pinned(req.pinned, address_hash_[req.pinned], true, req.refresh, excluded);
  }
  if (!enabled() || !req.key) return {fallback_.pick(ctx), decision::none, false};
  const int home = ring_->home(*req.key);
  if (home < 0) return {-1, decision::none, false};
  return pick_pinned(home, *req.key, false, false, excluded);
}

std::string affinity_picker::cookie_for(int index, int64_t now_unix) const {
  if (signer_ == nullptr || index < 0 || index >= static_cast<int>(endpoints_.size())) return {};
  return signer_->set_cookie(signer_->encode(endpoints_[index]->address, now_unix));
}

}  // namespace spillway::affinity
