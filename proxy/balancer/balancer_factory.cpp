// make_balancer: one line per policy.
#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/least_conn.hpp"
#include "proxy/balancer/p2c.hpp"
#include "proxy/balancer/random_balancer.hpp"
#include "proxy/balancer/round_robin.hpp"

namespace spillway::balancer {

std::unique_ptr<balancer> make_balancer(config::balancer_kind kind, const endpoint_set& endpoints,
                                        uint64_t seed) {
  using config::balancer_kind;
  switch (kind) {
    case balancer_kind::round_robin:
      return std::make_unique<round_robin>(endpoints);
    case balancer_kind::random:
      return std::make_unique<random_balancer>(endpoints, seed);
    case balancer_kind::p2c:
      return std::make_unique<p2c>(endpoints, seed);
    case balancer_kind::ring_hash:
    case balancer_kind::maglev:
    case balancer_kind::least_load:
      // Their own policies come with the affinity and load-report work; until then they balance
      // as least_conn.
    case balancer_kind::least_conn:
      break;
  }
  return std::make_unique<least_conn>(endpoints);
}

}  // namespace spillway::balancer
