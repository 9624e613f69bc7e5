// Route table: first matching route wins (SPEC §2.2). Match on exact path or path prefix, then
// method list, then exact header values. Immutable after construction; shared by all workers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "proxy/http/message.hpp"

namespace spillway::router {

class route_table {
 public:
  explicit route_table(const std::vector<config::route_config>& routes);

  /// Index of the first route matching the request, or -1 (→ 404).
  int match(const http::request_head& req) const noexcept;

 private:
  struct compiled {
    std::string path;  // exact match when exact is true, else prefix
    bool exact = false;
    std::vector<std::string> methods;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  std::vector<compiled> routes_;
};

}  // namespace spillway::router
