// Test fixture: endpoints with given weights (and addresses), owned by the test.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/balancer/balancer.hpp"

namespace spillway::affinity::test {

struct endpoints {
  explicit endpoints(const std::vector<uint32_t>& weights, uint32_t max_concurrent = 0,
                     uint16_t first_port = 9001) {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const auto port = static_cast<uint16_t>(first_port + i);
      add("10.0.0.1:" + std::to_string(port), weights[i], max_concurrent);
    }
  }

  upstream::endpoint& add(const std::string& address, uint32_t weight,
                          uint32_t max_concurrent = 0) {
    const auto colon = address.rfind(':');
    owned.push_back(std::make_unique<upstream::endpoint>(
        address,
        config::host_port{address.substr(0, colon),
                          static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))},
        weight, max_concurrent));
    set.push_back(owned.back().get());
    return *owned.back();
  }

  upstream::endpoint& operator[](std::size_t i) { return *owned[i]; }
  std::size_t size() const { return owned.size(); }

  std::vector<std::unique_ptr<upstream::endpoint>> owned;
  balancer::endpoint_set set;
};

}  // namespace spillway::affinity::test
