// Inputs some policies need beyond the endpoint set: the engine-reported load store for
// least_load and the bound of consistent hashing with bounded loads for ring_hash and maglev.
// make_balancer() without options uses the defaults below (least_load then balances on in-flight
// counts alone).
#pragma once

#include <memory>

#include "common/clock.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/bounded_load.hpp"
#include "proxy/balancer/least_load.hpp"
#include "proxy/health/load_report.hpp"

namespace spillway::balancer {

struct balancer_options {
  /// least_load: the cluster's report store (null: in-flight counts only). Must outlive the
  /// balancer and cover every endpoint of the set.
  const health::load_report_store* reports = nullptr;
  /// least_load: the clock the scraper stamps reports with (null: the steady clock).
  const clock_source* clock = nullptr;
  /// least_load: saturation thresholds.
  least_load_options least_load{};
  /// ring_hash and maglev: bounded-load factor (the cluster's affinity.balance_factor);
  /// <= 0 turns the bound off.
  double balance_factor = 1.25;
  /// ring_hash and maglev: in-flight requests an endpoint always takes (affinity.balance_floor).
  uint32_t balance_floor = 0;
};

/// make_balancer() with policy inputs; see balancer.hpp for the other arguments.
std::unique_ptr<balancer> make_balancer(config::balancer_kind kind, const endpoint_set& endpoints,
                                        uint64_t seed, const balancer_options& options);

/// The hashing policy for affinity keys: maglev when `kind` is maglev, ring_hash otherwise.
std::unique_ptr<hashing_balancer> make_hashing_balancer(config::balancer_kind kind,
                                                        const endpoint_set& endpoints,
                                                        double balance_factor,
                                                        uint32_t balance_floor = 0);

}  // namespace spillway::balancer
