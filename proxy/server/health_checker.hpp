// Active HTTP health checks (SPEC §2.1 health_check): every `interval`, each endpoint of a
// cluster gets `GET path` on a fresh connection; a 2xx within `timeout` is a success. Results
// drive the endpoint's health_state (thresholds, and the bits balancers read).
//
// Threading: runs on the control thread's io_context only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "proxy/upstream/cluster.hpp"

namespace spillway::server {

class health_checker {
 public:
  health_checker(boost::asio::io_context& ioc, upstream::cluster& c);
  ~health_checker();

  void start();
  void stop();

 private:
  class probe;
  boost::asio::io_context& ioc_;
  upstream::cluster& cluster_;
  std::vector<std::shared_ptr<probe>> probes_;
};

}  // namespace spillway::server
