// The HTTP/2 connection driver over real loopback sockets, with Debian's curl as the client
// (h2c with prior knowledge, and h2 over TLS by ALPN) and a small in-test exchange behind it.
#include "proxy/http2/connection_driver.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "proxy/server/tls_context.hpp"

namespace spillway::http2 {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

// /hello answers at once; /echo returns the request body; /sse sends three events 20 ms apart;
// /never does not answer.
class test_exchange final : public http::exchange,
                            public std::enable_shared_from_this<test_exchange> {
 public:
  test_exchange(asio::io_context& io, http::downstream_port& p, std::string path,
                std::atomic<int>& gone)
      : port_(&p), path_(std::move(path)), timer_(io), gone_(gone) {}

  void begin(bool end_stream) {
    if (path_.starts_with("/hello")) {
      http::response_head h;
      h.status = 200;
      h.headers.add("content-type", "text/plain");
      port_->send_head(h, false);
      port_->send_body("hello");
      port_->end_body(nullptr);
      port_ = nullptr;
    } else if (path_ == "/sse") {
      http::response_head h;
      h.status = 200;
      h.headers.add("content-type", "text/event-stream");
      port_->send_head(h, false);
      next_event();
    } else if (path_ == "/echo" && end_stream) {
      on_body_end(nullptr);
    }
  }

  void on_body(std::string_view data) override {
    body_.append(data);
    if (port_) port_->consume_request_body(data.size());
  }
  void on_body_end(const http::header_list*) override {
    if (!port_ || path_ != "/echo") return;
    http::response_head h;
    h.status = 200;
    port_->send_head(h, false);
    pending_ = std::move(body_);
    write_more();
  }
  void on_client_gone() override {
    port_ = nullptr;
    timer_.cancel();
    gone_++;
  }
  void on_writable() override { write_more(); }

 private:
  void write_more() {
    while (port_ && off_ < pending_.size()) {
      const size_t n = std::min<size_t>(16 * 1024, pending_.size() - off_);
      const bool more = port_->send_body(std::string_view(pending_).substr(off_, n));
      off_ += n;
      if (!more) return;  // resumes in on_writable()
    }
    if (port_) {
      port_->end_body(nullptr);
      port_ = nullptr;
    }
  }
  void next_event() {
    timer_.expires_after(std::chrono::milliseconds(20));
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || !self->port_) return;
      self->port_->send_body("data: " + std::to_string(self->events_) + "\n\n");
      if (++self->events_ == 3) {
        self->port_->end_body(nullptr);
        self->port_ = nullptr;
      } else {
        self->next_event();
      }
    });
  }

  http::downstream_port* port_;
  std::string path_;
  asio::steady_timer timer_;
  std::atomic<int>& gone_;
  std::string body_, pending_;
  size_t off_ = 0;
  int events_ = 0;
};

class test_factory final : public http::exchange_factory {
 public:
  explicit test_factory(asio::io_context& io) : io_(io) {}
  std::shared_ptr<http::exchange> open(http::request_head& head, bool end_stream,
                                       http::downstream_port& port) override {
    opened++;
    auto ex = std::make_shared<test_exchange>(io_, port, head.target, gone);
    ex->begin(end_stream);
    return ex;
  }
  std::atomic<int> opened{0}, gone{0};

 private:
  asio::io_context& io_;
};

// Self-signed P-256 certificate for the TLS case.
void write_credentials(const std::filesystem::path& dir) {
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
  FILE* f = std::fopen((dir / "cert.pem").c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen((dir / "key.pem").c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

class Http2Driver : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("curl --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "curl not installed";
    dir_ = std::filesystem::temp_directory_path() /
           ("spillway-h2d-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (thread_.joinable()) {
      io_.stop();
      thread_.join();
    }
    std::filesystem::remove_all(dir_);
  }

  void serve(bool tls, driver_timeouts t = {}) {
    if (tls) {
      write_credentials(dir_);
      auto r = server::make_tls_context({(dir_ / "cert.pem").string(), (dir_ / "key.pem").string()},
                                        true);
      ASSERT_TRUE(r.context) << r.error;
      tls_ = r.context;
    }
    timeouts_ = t;
    accept();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { io_.run(); });
  }

  void accept() {
    acceptor_.async_accept([this](const error_code& ec, tcp::socket s) {
      if (ec) return;
      accepted++;
      if (!tls_) {
        std::make_shared<connection_driver<tcp::socket>>(std::move(s), factory_, limits{},
                                                         timeouts_, "127.0.0.1")
            ->start();
      } else {
        auto st = std::make_shared<ssl::stream<tcp::socket>>(std::move(s), *tls_);
        st->async_handshake(ssl::stream_base::server, [this, st](const error_code& e) {
          if (e || server::negotiated_protocol(st->native_handle()) != server::alpn_protocol::h2)
            return;
          std::make_shared<connection_driver<ssl::stream<tcp::socket>>>(
              std::move(*st), factory_, limits{}, timeouts_, "127.0.0.1")
              ->start();
        });
      }
      accept();
    });
  }

  std::string curl(const std::string& args) {
    const std::string cmd = "curl -s " + args + " 2>&1";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    return out;
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_, {asio::ip::make_address("127.0.0.1"), 0}};
  test_factory factory_{io_};
  std::shared_ptr<ssl::context> tls_;
  driver_timeouts timeouts_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<int> accepted{0};
  std::filesystem::path dir_;
};

TEST_F(Http2Driver, PriorKnowledgeGet) {
  serve(false);
  EXPECT_EQ(curl("--http2-prior-knowledge -w ' %{http_version}' " + url("/hello")), "hello 2");
}

TEST_F(Http2Driver, LargeRequestBodyEchoesThroughFlowControl) {
  serve(false);
  std::string body(3 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i * 7919 % 26);
  std::ofstream(dir_ / "in.bin", std::ios::binary) << body;
  const std::string out = (dir_ / "out.bin").string();
  curl("--http2-prior-knowledge --data-binary @" + (dir_ / "in.bin").string() + " -o " + out + " " +
       url("/echo"));
  std::stringstream got;
  got << std::ifstream(out, std::ios::binary).rdbuf();
  EXPECT_EQ(got.str().size(), body.size());
  EXPECT_TRUE(got.str() == body) << "echoed body differs";
}

TEST_F(Http2Driver, ManyStreamsShareOneConnection) {
  // Over TLS: curl 7.88 does not start parallel transfers on an h2c prior-knowledge connection.
  serve(true);
  std::string urls;
  for (int i = 0; i < 30; ++i)
    urls += " https://127.0.0.1:" + std::to_string(port_) + "/hello?" + std::to_string(i);
  const std::string out = curl("-k --http2 --no-progress-meter -Z --parallel-max 30" + urls);
  std::string expected;
  for (int i = 0; i < 30; ++i) expected += "hello";
  EXPECT_EQ(out, expected);
  EXPECT_EQ(factory_.opened.load(), 30);
  EXPECT_EQ(accepted.load(), 1) << "curl opened more than one connection: no multiplexing";
}

TEST_F(Http2Driver, EventsArriveAsSent) {
  serve(false);
  EXPECT_EQ(curl("-N --http2-prior-knowledge " + url("/sse")), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

TEST_F(Http2Driver, ClientLeavingCancelsTheExchange) {
  serve(false);
  curl("--http2-prior-knowledge --max-time 0.5 " + url("/never"));
  for (int i = 0; i < 100 && factory_.gone.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(factory_.opened.load(), 1);
  EXPECT_EQ(factory_.gone.load(), 1) << "the exchange never learned that its client left";
}

TEST_F(Http2Driver, TlsWithAlpnH2) {
  serve(true);
  const std::string https = "https://127.0.0.1:" + std::to_string(port_) + "/hello";
  EXPECT_EQ(curl("-k --http2 -w ' %{http_version}' " + https), "hello 2");
}

TEST_F(Http2Driver, IdleConnectionGetsGoawayAndCloses) {
  driver_timeouts t;
  t.idle = std::chrono::milliseconds(300);
  serve(false, t);
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port_});
  const std::string preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0", 33);
  asio::write(s, asio::buffer(preface));
  const auto start = std::chrono::steady_clock::now();
  std::string got;
  error_code ec;
  char buf[4096];
  while (!ec) {
    const size_t n = s.read_some(asio::buffer(buf), ec);
    got.append(buf, n);
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(5));
  // The last frame before the close is a GOAWAY (type 7) with NO_ERROR.
  ASSERT_GE(got.size(), 17u);
  const std::string tail = got.substr(got.size() - 17);
  EXPECT_EQ(tail[3], '\x07');
  EXPECT_EQ(tail.substr(13), std::string(4, '\0'));
}

}  // namespace
}  // namespace spillway::http2
