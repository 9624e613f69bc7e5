#include "loadgen/transport.hpp"

#include <openssl/ssl.h>

namespace spillway::loadgen {

std::unique_ptr<asio::ssl::context> make_tls_context(bool verify) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  if (verify) {
    ctx->set_default_verify_paths();
    ctx->set_verify_mode(asio::ssl::verify_peer);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none);
  }
  return ctx;
}

link::link(asio::io_context& io, const tls_settings& tls) : tls_cfg_(tls), socket_(io) {
  if (tls.context) {
    tls_.emplace(io, *tls.context);
    SSL* ssl = tls_->native_handle();
    if (!tls.server_name.empty()) SSL_set_tlsext_host_name(ssl, tls.server_name.c_str());
    static const unsigned char h2[] = {2, 'h', '2'};
    static const unsigned char h1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    if (tls.want_h2) {
      SSL_set_alpn_protos(ssl, h2, sizeof h2);
    } else {
      SSL_set_alpn_protos(ssl, h1, sizeof h1);
    }
    if (tls.context && !tls.server_name.empty()) {
      SSL_set1_host(ssl, tls.server_name.c_str());
    }
  }
}

void link::async_connect(const tcp::endpoint& ep, std::function<void(error_code, bool)> handler) {
  auto self = shared_from_this();
  tcp_socket().async_connect(ep, [self, handler = std::move(handler)](error_code ec) mutable {
    if (ec) return handler(ec, false);
    error_code ignored;
    self->tcp_socket().set_option(tcp::no_delay(true), ignored);
    if (!self->tls_) {
      self->open_ = true;
      return handler(ec, false);
    }
    self->tls_->async_handshake(asio::ssl::stream_base::client,
                                [self, handler = std::move(handler)](error_code hec) {
                                  if (!hec) self->open_ = true;
                                  handler(hec, static_cast<bool>(hec));
                                });
  });
}

void link::close() noexcept {
  open_ = false;
  error_code ignored;
  tcp_socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp_socket().close(ignored);
}

std::string link::alpn() const {
  if (!tls_) return {};
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(const_cast<asio::ssl::stream<tcp::socket>&>(*tls_).native_handle(), &data,
                         &len);
  return data ? std::string(reinterpret_cast<const char*>(data), len) : std::string{};
}

}  // namespace spillway::loadgen
