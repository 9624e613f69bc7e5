// A byte stream to the target: plain TCP or TLS over TCP, with connect (and handshake, with SNI
// and ALPN) in one call. A link is used for one TCP connection only; handlers keep it alive
// through a shared_ptr, so closing a link while operations are pending is safe and a connection
// can drop a link and open a new one at once. Runs on its driver's io_context thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"

namespace spillway::loadgen {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct tls_settings {
  asio::ssl::context* context = nullptr;  // null: plain TCP
  std::string server_name;
  bool want_h2 = false;
};

/// Builds the client TLS context (verification only when asked, ALPN set per link).
std::unique_ptr<asio::ssl::context> make_tls_context(bool verify);

class link : public std::enable_shared_from_this<link> {
 public:
  link(asio::io_context& io, const tls_settings& tls);

  /// Connects and, for TLS, handshakes. `handler(ec, tls_failed)`.
  void async_connect(const tcp::endpoint& ep, std::function<void(error_code, bool)> handler);

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& b, Handler&& h) {
    if (tls_) {
      tls_->async_read_some(b, std::forward<Handler>(h));
    } else {
      socket_.async_read_some(b, std::forward<Handler>(h));
    }
  }

  template <class Buffers, class Handler>
  void async_write(const Buffers& b, Handler&& h) {
    if (tls_) {
      asio::async_write(*tls_, b, std::forward<Handler>(h));
    } else {
      asio::async_write(socket_, b, std::forward<Handler>(h));
    }
  }

  void close() noexcept;
  bool is_open() const noexcept { return open_; }
  /// ALPN protocol the server chose ("" when none or plain TCP).
  std::string alpn() const;

 private:
  tcp::socket& tcp_socket() { return tls_ ? tls_->next_layer() : socket_; }

  tls_settings tls_cfg_;
  tcp::socket socket_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  bool open_ = false;
};

}  // namespace spillway::loadgen
