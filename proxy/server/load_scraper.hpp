// Scrapes each endpoint's engine metrics (SPEC §2.1 load_report): every `interval`, `GET path` on
// a fresh connection; a 2xx answer whose Prometheus text has the configured metrics is recorded
// in the cluster's load_report_store, trusted for stale_intervals intervals. A failure of any
// kind (connect, timeout, status, no metrics) drops the endpoint's report at once, so least_load
// falls back to in-flight counts for it.
//
// Threading: runs on the control thread's io_context only; the store it writes is read by the
// workers (atomics).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/health/load_report.hpp"

namespace spillway::server {

class load_scraper {
 public:
  /// A report stays fresh this many intervals after it arrived.
  static constexpr int stale_intervals = 3;
  /// Largest metrics page read.
  static constexpr std::size_t max_body_bytes = 4 * 1024 * 1024;

  /// Current socket addresses of endpoint `i` (the cluster's resolved addresses).
  using address_source = std::function<std::vector<boost::asio::ip::tcp::endpoint>(std::size_t)>;

  /// `cfg`, `endpoints`, `store` and `clock` must outlive the scraper; `store` covers every
  /// endpoint. `clock` must be the one least_load reads.
  load_scraper(boost::asio::io_context& ioc, const config::load_report_config& cfg,
               const balancer::endpoint_set& endpoints, address_source addresses,
               health::load_report_store& store,
               const clock_source& clock = system_clock_source::instance());
  ~load_scraper();

  void start();
  void stop();

 private:
  class probe;
  boost::asio::io_context& ioc_;
  const config::load_report_config& cfg_;
  const balancer::endpoint_set& endpoints_;
  address_source addresses_;
  health::load_report_store& store_;
  const clock_source& clock_;
  std::vector<std::shared_ptr<probe>> probes_;
};

}  // namespace spillway::server
