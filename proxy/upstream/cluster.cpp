#include "proxy/upstream/cluster.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/log.hpp"

namespace spillway::upstream {

cluster::cluster(const config::cluster_config& cfg, size_t index) : cfg_(cfg), index_(index) {
  for (const auto& e : cfg.endpoints) {
    auto hp = config::parse_host_port(e.address).value_or(config::host_port{});
    uint32_t cap = e.max_concurrent.value_or(cfg.max_concurrent.value_or(0));
    endpoints_.push_back(std::make_unique<endpoint>(e.address, hp, e.weight, cap));
    raw_.push_back(endpoints_.back().get());
  }
  addresses_.resize(endpoints_.size());
}

size_t cluster::resolve_all() {
  boost::asio::io_context ioc;
  tcp::resolver resolver(ioc);
  size_t missing = 0;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const auto& target = endpoints_[i]->target;
    boost::system::error_code ec;
    auto results = resolver.resolve(target.host, std::to_string(target.port),
                                    tcp::resolver::numeric_service, ec);
    std::vector<tcp::endpoint> found;
    if (!ec)
      for (const auto& r : results) found.push_back(r.endpoint());
    std::lock_guard lock(addresses_mutex_);
    if (!found.empty()) {
      addresses_[i] = std::move(found);
    } else {
      log::warn("cluster {}: cannot resolve {}: {}", cfg_.name, endpoints_[i]->address,
                ec ? ec.message() : "no addresses");
    }
    if (addresses_[i].empty()) ++missing;
  }
  return missing;
}

std::vector<tcp::endpoint> cluster::addresses(size_t i) const {
  std::lock_guard lock(addresses_mutex_);
  return addresses_[i];
}

}  // namespace spillway::upstream
