// Test fixture: a set of endpoints with given weights, owned by the test.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/balancer/balancer.hpp"

namespace spillway::balancer::test {

struct test_cluster {
  explicit test_cluster(const std::vector<uint32_t>& weights, uint32_t max_concurrent = 0) {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const uint16_t port = static_cast<uint16_t>(9001 + i);
      owned.push_back(std::make_unique<upstream::endpoint>("127.0.0.1:" + std::to_string(port),
                                                           config::host_port{"127.0.0.1", port},
                                                           weights[i], max_concurrent));
      set.push_back(owned.back().get());
    }
  }

  upstream::endpoint& operator[](std::size_t i) { return *owned[i]; }
  std::size_t size() const { return owned.size(); }

  std::vector<std::unique_ptr<upstream::endpoint>> owned;
  endpoint_set set;
};

inline const char* kind_name(config::balancer_kind k) {
  return config::to_string(k);
}

}  // namespace spillway::balancer::test
