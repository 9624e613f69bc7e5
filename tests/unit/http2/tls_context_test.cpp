// TLS contexts for listeners: certificate and key loading errors name the file; handshakes over
// loopback negotiate h2 or http/1.1 by ALPN and refuse TLS below 1.2.
#include "proxy/server/tls_context.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

namespace spillway::server {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

// A self-signed P-256 certificate and its key, written as PEM files in a temporary folder.
class credentials {
 public:
  credentials() {
    dir_ = std::filesystem::temp_directory_path() /
           ("spillway-tls-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    write(cert_path(), [&](FILE* f) { PEM_write_X509(f, cert); });
    write(key_path(),
          [&](FILE* f) { PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr); });
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  ~credentials() { std::filesystem::remove_all(dir_); }
  std::string cert_path() const { return (dir_ / "cert.pem").string(); }
  std::string key_path() const { return (dir_ / "key.pem").string(); }
  config::tls_config config() const { return {cert_path(), key_path()}; }

 private:
  template <class F>
  static void write(const std::string& path, F f) {
    FILE* file = std::fopen(path.c_str(), "w");
    f(file);
    std::fclose(file);
  }
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

struct handshake_result {
  bool server_ok = false, client_ok = false;
  alpn_protocol protocol = alpn_protocol::http1;
};

// One TLS handshake over loopback between `server_ctx` and a client offering `alpn`
// (wire format, empty for none) with TLS versions up to `max_version`.
handshake_result handshake(ssl::context& server_ctx, std::string alpn,
                           int max_version = TLS1_3_VERSION) {
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  ssl::context client_ctx(ssl::context::tls_client);
  SSL_CTX_set_max_proto_version(client_ctx.native_handle(), max_version);
  SSL_CTX_set_min_proto_version(client_ctx.native_handle(), TLS1_VERSION);
  SSL_CTX_set_security_level(client_ctx.native_handle(), 0);
  if (!alpn.empty())
    SSL_CTX_set_alpn_protos(client_ctx.native_handle(),
                            reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
  ssl::stream<tcp::socket> server(io, server_ctx), client(io, client_ctx);
  handshake_result r;
  acceptor.async_accept(server.next_layer(), [&](const boost::system::error_code& ec) {
    if (ec) return;
    server.async_handshake(ssl::stream_base::server, [&](const boost::system::error_code& e) {
      r.server_ok = !e;
      if (!e) r.protocol = negotiated_protocol(server.native_handle());
    });
  });
  client.next_layer().async_connect(
      acceptor.local_endpoint(), [&](const boost::system::error_code& ec) {
        if (ec) return;
        client.async_handshake(ssl::stream_base::client,
                               [&](const boost::system::error_code& e) { r.client_ok = !e; });
      });
  io.run_for(std::chrono::seconds(10));
  return r;
}

const std::string offer_h2_http1("\x02h2\x08http/1.1", 12);
const std::string offer_http1("\x08http/1.1", 9);

TEST(TlsContext, AlpnPrefersH2WhenTheListenerHasHttp2) {
  credentials c;
  auto t = make_tls_context(c.config(), /*http2=*/true);
  ASSERT_TRUE(t.context) << t.error;
  auto r = handshake(*t.context, offer_h2_http1);
  ASSERT_TRUE(r.server_ok && r.client_ok);
  EXPECT_EQ(r.protocol, alpn_protocol::h2);
  r = handshake(*t.context, offer_http1);
  ASSERT_TRUE(r.server_ok);
  EXPECT_EQ(r.protocol, alpn_protocol::http1);
  r = handshake(*t.context, "");
  ASSERT_TRUE(r.server_ok) << "a client without ALPN must still connect";
  EXPECT_EQ(r.protocol, alpn_protocol::http1);
}

TEST(TlsContext, AlpnNeverPicksH2WithoutHttp2) {
  credentials c;
  auto t = make_tls_context(c.config(), /*http2=*/false);
  ASSERT_TRUE(t.context) << t.error;
  auto r = handshake(*t.context, offer_h2_http1);
  ASSERT_TRUE(r.server_ok);
  EXPECT_EQ(r.protocol, alpn_protocol::http1);
}

TEST(TlsContext, RefusesTlsBelow12) {
  credentials c;
  auto t = make_tls_context(c.config(), true);
  ASSERT_TRUE(t.context) << t.error;
  auto r = handshake(*t.context, offer_http1, TLS1_1_VERSION);
  EXPECT_FALSE(r.server_ok);
  EXPECT_FALSE(r.client_ok);
  r = handshake(*t.context, offer_http1, TLS1_2_VERSION);
  EXPECT_TRUE(r.server_ok && r.client_ok) << "TLS 1.2 must be accepted";
}

TEST(TlsContext, ErrorsNameTheFile) {
  credentials c, other;
  auto t = make_tls_context({"/nonexistent/cert.pem", c.key_path()}, true);
  EXPECT_FALSE(t.context);
  EXPECT_NE(t.error.find("/nonexistent/cert.pem"), std::string::npos) << t.error;
  t = make_tls_context({c.cert_path(), "/nonexistent/key.pem"}, true);
  EXPECT_FALSE(t.context);
  EXPECT_NE(t.error.find("/nonexistent/key.pem"), std::string::npos) << t.error;
  t = make_tls_context({c.cert_path(), other.key_path()}, true);
  EXPECT_FALSE(t.context);
  EXPECT_NE(t.error.find("does not match"), std::string::npos) << t.error;
  t = make_tls_context({c.key_path(), c.key_path()}, true);
  EXPECT_FALSE(t.context) << "a key file is not a certificate";
}

}  // namespace
}  // namespace spillway::server
