// Admin listener (SPEC §2.4): /healthz, /readyz, /metrics, /admin/clusters. Runs on the
// control thread's io_context, never on a data-plane worker; one request at a time per
// connection, small bodies, Beast's own message types (not a hot path).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

namespace spillway::server {
class server;
struct runtime;
}

namespace spillway::admin {

class admin_server {
 public:
  admin_server(boost::asio::io_context& ioc, const server::server& srv);
  ~admin_server();

  boost::system::error_code listen(const boost::asio::ip::tcp::endpoint& at);
  void close();

 private:
  class connection;
  void do_accept();

  boost::asio::io_context& ioc_;
  const server::server& server_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

/// Prometheus text exposition of every worker's counters, summed.
std::string render_metrics(const server::server& srv);

/// The traffic-policy metrics (metrics_policy.cpp), appended to `out`.
void render_policy_metrics(std::string& out, const server::runtime& rt);

/// JSON view of clusters and endpoints for GET /admin/clusters.
std::string render_clusters(const server::server& srv);

}  // namespace spillway::admin
