// An HTTP/1.1 session's client stream over TLS (a connection whose ALPN chose http/1.1, or
// that named no protocol). The handshake is done before the session starts.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "proxy/http1/client_stream.hpp"

namespace spillway::server {

using tls_socket = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

class tls_stream final : public http1::client_stream {
 public:
  explicit tls_stream(tls_socket s) : s_(std::move(s)) {}

  void async_read_some(boost::asio::mutable_buffer b, io_handler h) override;
  void async_write(boost::asio::const_buffer b, io_handler h) override;
  void shutdown_send() noexcept override;
  void close() noexcept override;
  const char* scheme() const noexcept override { return "https"; }
  const char* via_version() const noexcept override { return "1.1"; }
  bool http2_stream() const noexcept override { return false; }

 private:
  tls_socket s_;
};

}  // namespace spillway::server
