// least_conn: the eligible endpoint with the lowest (active + 1) / effective_weight, where active
// counts the in-flight requests of every worker (nginx least_conn, Envoy least_request's
// weight / (active + 1)). Loads are compared by cross-multiplication; ties are broken by smooth
// weighted round robin over the tied endpoints, as nginx does.
//
// Threading: one instance per worker thread; the tie-break state is the instance's own.
#pragma once

#include <vector>

#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/weighted_load.hpp"

namespace spillway::balancer {

class least_conn final : public balancer {
 public:
  explicit least_conn(const endpoint_set& endpoints);

  int pick(const pick_context& ctx) override;

 private:
  endpoint_set endpoints_;
  std::vector<weighted_index> tied_;  // scratch, sized once so pick() does not allocate
  smooth_wrr wrr_;
};

}  // namespace spillway::balancer
