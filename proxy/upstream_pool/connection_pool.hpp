// Keep-alive connection pool for one worker: idle upstream connections per endpoint, reused
// most-recently-used first (warm sockets, and the least-used ones age out). Owned by one
// worker thread; no locking.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <memory>
#include <vector>

namespace spillway::upstream_pool {

using tcp = boost::asio::ip::tcp;

/// One upstream HTTP/1.1 connection. While in use it belongs to the session serving a request;
/// while idle, to the pool.
struct upstream_connection {
  explicit upstream_connection(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  boost::beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since{};
  uint32_t requests = 0;  // requests served on this connection
};

class connection_pool {
 public:
  connection_pool(size_t endpoints, uint32_t max_idle, std::chrono::milliseconds idle_timeout)
      : idle_(endpoints), max_idle_(max_idle), idle_timeout_(idle_timeout) {}

  /// Most recently returned idle connection to `endpoint`, or null.
  std::unique_ptr<upstream_connection> take(size_t endpoint);

  /// Keeps `c` for reuse, or closes it when the endpoint already has max_idle idle ones.
  void give_back(size_t endpoint, std::unique_ptr<upstream_connection> c,
                 std::chrono::steady_clock::time_point now);

  /// Closes connections idle for longer than idle_timeout.
  void sweep(std::chrono::steady_clock::time_point now);

  /// Closes every idle connection (drain, reload).
  void clear();

  /// Reload: moves `from`'s idle connections to its endpoint `from_endpoint` in as this pool's
  /// idle connections to `endpoint` (same worker), keeping the newest max_idle.
  void adopt(size_t endpoint, connection_pool& from, size_t from_endpoint);

  size_t idle_count() const noexcept;

 private:
  std::vector<std::vector<std::unique_ptr<upstream_connection>>> idle_;
  uint32_t max_idle_;
  std::chrono::milliseconds idle_timeout_;
};

}  // namespace spillway::upstream_pool
