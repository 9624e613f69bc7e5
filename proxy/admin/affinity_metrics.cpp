#include "proxy/admin/affinity_metrics.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>

#include "common/prometheus.hpp"

namespace spillway::admin {

using prometheus::escape_label;

void render_affinity_metrics(std::string& out, const server::runtime& rt) {
  out.append(
      "# HELP spillway_affinity_decisions_total How session affinity placed requests.\n"
      "# TYPE spillway_affinity_decisions_total counter\n");
  for (std::size_t c = 0; c < rt.clusters.size(); ++c) {
    if (rt.clusters[c]->config().affinity.key == config::affinity_key_kind::none) continue;
    const std::string name = escape_label(rt.clusters[c]->name());
    for (std::size_t d = 0; d < affinity::decision_count; ++d) {
      const auto what = static_cast<affinity::decision>(d);
      fmt::format_to(std::back_inserter(out),
                     "spillway_affinity_decisions_total{{cluster=\"{}\",decision=\"{}\"}} {}\n",
                     name, affinity::to_string(what), rt.policies[c]->count_of(what));
    }
  }
}

boost::json::value reported_load(const server::runtime& rt, std::size_t c, std::size_t e) {
  const health::load_report_store* store = rt.policies[c]->reports.get();
  if (!store) return nullptr;
  const health::load_view v = store->read(e, std::chrono::steady_clock::now());
  return boost::json::object{{"fresh", v.fresh},
                             {"waiting", v.waiting},
                             {"running", v.running},
                             {"kv_cache_usage", v.kv_permille / 1000.0}};
}

}  // namespace spillway::admin
