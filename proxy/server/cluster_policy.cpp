#include "proxy/server/cluster_policy.hpp"

namespace spillway::server {

cluster_policy::cluster_policy(const upstream::cluster& c) {
  const config::cluster_config& cfg = c.config();
  if (cfg.load_report) reports = std::make_unique<health::load_report_store>(c.size());
  if (cfg.affinity.key == config::affinity_key_kind::cookie)
    signer = std::make_unique<affinity::cookie_signer>(cfg.affinity.cookie, cfg.name);
}

}  // namespace spillway::server
