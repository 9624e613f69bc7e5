// The engine's HTTP/1.1 front end (Boost.Beast): accepts connections and hands each to a
// session. Sessions run on their own strand of the io_context; the engine's step thread reaches
// them only through asio::post. Fault injection (SPEC §3) is applied here, in front of the engine.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <mutex>
#include <string>

#include "common/error.hpp"
#include "common/random.hpp"
#include "upstream-engine/runtime/engine.hpp"

namespace spillway::engine::api {

struct server_options {
  std::string name = "spillway-engine";  // --name: X-Engine-Name header, /health, metrics
  std::string model_id = "model";        // the id /v1/models lists and answers carry
  size_t max_body_bytes = 1 << 20;
  // Fault injection.
  double fault_error_rate = 0.0;             // share of completion requests failed up front
  int fault_status = 503;                    // their status
  std::chrono::milliseconds fault_delay{0};  // added before a request is queued
  int fault_stall_after = -1;                // stop sending after N tokens and hold (-1 off)
};

class http_server {
 public:
  http_server(boost::asio::io_context& ioc, runtime::engine& eng, server_options opts);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and starts accepting.
  error_code listen(const boost::asio::ip::tcp::endpoint& at);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  /// Stops accepting; open sessions end when their clients leave or the io_context stops.
  void close();

  runtime::engine& engine() noexcept { return engine_; }
  const server_options& options() const noexcept { return opts_; }
  /// True for the share of requests --fault-error-rate fails. Any thread.
  bool roll_fault();
  /// A process-unique id for an answer ("cmpl-..."). Any thread.
  std::string next_id(bool chat);

 private:
  void do_accept();

  boost::asio::io_context& ioc_;
  runtime::engine& engine_;
  server_options opts_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::mutex rng_mu_;
  xoshiro256 rng_;
  std::atomic<uint64_t> ids_{0};
  uint64_t nonce_;
};

}  // namespace spillway::engine::api
