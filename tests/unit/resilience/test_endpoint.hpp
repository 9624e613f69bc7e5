// An endpoint for tests that watch the unavailable bits a policy sets.
#pragma once

#include <memory>
#include <string>

#include "proxy/upstream/endpoint.hpp"

namespace spillway::test {

inline std::unique_ptr<upstream::endpoint> make_endpoint(uint16_t port = 9001,
                                                         uint32_t weight = 1) {
  return std::make_unique<upstream::endpoint>("127.0.0.1:" + std::to_string(port),
                                              config::host_port{"127.0.0.1", port}, weight, 0);
}

}  // namespace spillway::test
