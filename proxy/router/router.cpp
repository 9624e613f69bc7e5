#include "proxy/router/router.hpp"

namespace spillway::router {

route_table::route_table(const std::vector<config::route_config>& routes) {
  routes_.reserve(routes.size());
  for (const auto& r : routes) {
    compiled c;
    c.exact = !r.match.path.empty();
    c.path = c.exact ? r.match.path : r.match.path_prefix;
    c.methods = r.match.methods;
    c.headers = r.match.headers;
    routes_.push_back(std::move(c));
  }
}

int route_table::match(const http::request_head& req) const noexcept {
  const std::string_view path = req.path();
  for (size_t i = 0; i < routes_.size(); ++i) {
    const compiled& c = routes_[i];
    if (c.exact ? path != c.path : !path.starts_with(c.path)) continue;
    if (!c.methods.empty()) {
      bool ok = false;
      for (const auto& m : c.methods) ok = ok || m == req.method;
      if (!ok) continue;
    }
    bool headers_ok = true;
    for (const auto& [name, value] : c.headers) {
      auto v = req.headers.find(name);
      if (!v || *v != value) {
        headers_ok = false;
        break;
      }
    }
    if (headers_ok) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace spillway::router
