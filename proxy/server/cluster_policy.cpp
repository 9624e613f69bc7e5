#include "proxy/server/cluster_policy.hpp"

namespace spillway::server {

namespace {
bool same_cookie(const config::affinity_cookie_config& a, const config::affinity_cookie_config& b) {
  return a.name == b.name && a.ttl == b.ttl && a.secure == b.secure && a.http_only == b.http_only &&
         a.secret == b.secret;
}
}  // namespace

cluster_policy::cluster_policy(const upstream::cluster& c, const cluster_policy* previous) {
  const config::cluster_config& cfg = c.config();
  if (cfg.load_report) reports = std::make_unique<health::load_report_store>(c.size());
  if (cfg.affinity.key == config::affinity_key_kind::cookie) {
    cookie = cfg.affinity.cookie;
    if (previous && previous->signer && same_cookie(previous->cookie, cookie))
      signer = previous->signer;
    else
      signer = std::make_shared<affinity::cookie_signer>(cookie, cfg.name);
  }
  if (previous)
    for (size_t i = 0; i < decisions.size(); ++i)
      decisions[i].store(previous->decisions[i].load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
}

}  // namespace spillway::server
