// make_balancer: one line per policy.
#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/balancer_options.hpp"
#include "proxy/balancer/least_conn.hpp"
#include "proxy/balancer/least_load.hpp"
#include "proxy/balancer/maglev.hpp"
#include "proxy/balancer/p2c.hpp"
#include "proxy/balancer/random_balancer.hpp"
#include "proxy/balancer/ring_hash.hpp"
#include "proxy/balancer/round_robin.hpp"

namespace spillway::balancer {

std::unique_ptr<balancer> make_balancer(config::balancer_kind kind, const endpoint_set& endpoints,
                                        uint64_t seed) {
  return make_balancer(kind, endpoints, seed, balancer_options{});
}

std::unique_ptr<balancer> make_balancer(config::balancer_kind kind, const endpoint_set& endpoints,
                                        uint64_t seed, const balancer_options& options) {
  using config::balancer_kind;
  switch (kind) {
    case balancer_kind::round_robin:
      return std::make_unique<round_robin>(endpoints);
    case balancer_kind::random:
      return std::make_unique<random_balancer>(endpoints, seed);
    case balancer_kind::p2c:
      return std::make_unique<p2c>(endpoints, seed);
    case balancer_kind::ring_hash:
      return std::make_unique<ring_hash>(endpoints, options.balance_factor, options.balance_floor);
    case balancer_kind::maglev:
      return std::make_unique<maglev>(endpoints, options.balance_factor, options.balance_floor);
    case balancer_kind::least_load:
      return std::make_unique<least_load>(
          endpoints, options.reports,
          options.clock != nullptr ? *options.clock : system_clock_source::instance(),
          options.least_load);
    case balancer_kind::least_conn:
      break;
  }
  return std::make_unique<least_conn>(endpoints);
}

std::unique_ptr<hashing_balancer> make_hashing_balancer(config::balancer_kind kind,
                                                        const endpoint_set& endpoints,
                                                        double balance_factor,
                                                        uint32_t balance_floor) {
  if (kind == config::balancer_kind::maglev)
    return std::make_unique<maglev>(endpoints, balance_factor, balance_floor);
  return std::make_unique<ring_hash>(endpoints, balance_factor, balance_floor);
}

}  // namespace spillway::balancer
