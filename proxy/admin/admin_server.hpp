// Admin listener (SPEC §2.4): /healthz, /readyz, /metrics, /admin/clusters, /admin/reload, the
// status page (/ and /admin/status, status.hpp). Runs on the
// control thread's io_context, never on a data-plane worker; one request at a time per
// connection, small bodies, Beast's own message types (not a hot path).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

namespace spillway::server {
class server;
struct runtime;
}  // namespace spillway::server

namespace spillway::admin {

class status_tracker;

class admin_server {
 public:
  admin_server(boost::asio::io_context& ioc, server::server& srv);
  ~admin_server();

  boost::system::error_code listen(const boost::asio::ip::tcp::endpoint& at);
  void close();

 private:
  class connection;
  void do_accept();

  boost::asio::io_context& ioc_;
  server::server& server_;  // non-const for POST /admin/reload
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<status_tracker> status_;
};

/// Prometheus text exposition of every worker's counters, summed.
std::string render_metrics(const server::server& srv);

/// The traffic-policy metrics (metrics_policy.cpp), appended to `out`.
void render_policy_metrics(std::string& out, const server::runtime& rt);
/// TLS handshakes, HTTP/2 connections, streams and abuse counters (protocol_metrics.cpp).
void render_protocol_metrics(std::string& out, const server::server& srv);

/// JSON view of clusters and endpoints for GET /admin/clusters.
std::string render_clusters(const server::server& srv);

/// POST /admin/cache/purge (admin_cache.cpp). Calls `reply(status, json)` once, inline or
/// later on `ioc`'s thread.
void purge_cache(const server::server& srv, std::string_view target, std::string_view body,
                 boost::asio::io_context& ioc, std::function<void(int, std::string)> reply);

/// Cache metric lines for /metrics ("" without a cache).
std::string render_cache_metrics(const server::server& srv);

}  // namespace spillway::admin
