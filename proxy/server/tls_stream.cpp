#include "proxy/server/tls_stream.hpp"

#include <boost/asio/write.hpp>

namespace spillway::server {

namespace asio = boost::asio;

void tls_stream::async_read_some(asio::mutable_buffer b, io_handler h) {
  s_.async_read_some(b, std::move(h));
}

void tls_stream::async_write(asio::const_buffer b, io_handler h) {
  asio::async_write(s_, b, std::move(h));
}

void tls_stream::shutdown_send() noexcept {
  // No close_notify exchange: the session closes right after, and HTTP/1.1 framing already
  // tells the client where the last response ended.
  error_code ignored;
  s_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

void tls_stream::close() noexcept {
  error_code ignored;
  s_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  s_.lowest_layer().close(ignored);
}

}  // namespace spillway::server
