#include "proxy/server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fmt/format.h>

namespace spillway::server {
namespace {

// Wire-format ALPN lists (RFC 7301 §3.1), in preference order.
constexpr unsigned char alpn_h2_http1[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char alpn_http1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Picks the first of our protocols that the client offers; without overlap the handshake goes
// on without ALPN (the client then speaks HTTP/1.1).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const bool h2 = arg != nullptr;
  const unsigned char* ours = h2 ? alpn_h2_http1 : alpn_http1;
  const unsigned int ours_len = h2 ? sizeof alpn_h2_http1 : sizeof alpn_http1;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, ours, ours_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

tls_context_result make_tls_context(const config::tls_config& tls, bool http2) {
  namespace ssl = boost::asio::ssl;
  tls_context_result r;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // HTTP/2 forbids TLS 1.2 renegotiation and requires ephemeral key exchange with AEAD suites
  // (RFC 9113 §9.2); this list satisfies both for TLS 1.2, TLS 1.3 suites are all AEAD.
  SSL_CTX_set_cipher_list(native,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  // TLS 1.3: AES-128-GCM first (as strong as needed, and cheaper per byte than AES-256).
  SSL_CTX_set_ciphersuites(native,
                           "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
                           "TLS_AES_256_GCM_SHA384");
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, tls.certificate.c_str()) != 1) {
    r.error =
        fmt::format("{}: cannot load the certificate chain: {}", tls.certificate, openssl_reason());
    return r;
  }
  if (SSL_CTX_use_PrivateKey_file(native, tls.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      r.error = fmt::format("{}: the private key does not match the certificate {}",
                            tls.private_key, tls.certificate);
    } else {
      r.error =
          fmt::format("{}: cannot load the private key: {}", tls.private_key, openssl_reason());
    }
    return r;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    r.error = fmt::format("{}: the private key does not match the certificate {}", tls.private_key,
                          tls.certificate);
    ERR_clear_error();
    return r;
  }
  SSL_CTX_set_alpn_select_cb(native, &select_alpn, http2 ? native : nullptr);
  r.context = std::move(ctx);
  return r;
}

alpn_protocol negotiated_protocol(const SSL* ssl) noexcept {
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl, &p, &n);
  return n == 2 && p[0] == 'h' && p[1] == '2' ? alpn_protocol::h2 : alpn_protocol::http1;
}

}  // namespace spillway::server
