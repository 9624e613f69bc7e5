// round_robin: smooth weighted round robin (nginx, ngx_http_upstream_round_robin.c) over the
// eligible endpoints with their effective weights. In-flight counts are not consulted.
//
// Threading: one instance per worker thread; each worker interleaves on its own.
#pragma once

#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/weighted_load.hpp"

namespace spillway::balancer {

class round_robin final : public balancer {
 public:
  explicit round_robin(const endpoint_set& endpoints);

  int pick(const pick_context& ctx) override;

 private:
  endpoint_set endpoints_;
  smooth_wrr wrr_;
};

}  // namespace spillway::balancer
