// load_scraper against a scripted HTTP server on loopback: a good metrics page is recorded with
// the in-flight count at the scrape; an error status or a dead endpoint drops the report.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "proxy/server/load_scraper.hpp"
#include "tests/unit/affinity/fixture.hpp"

namespace spillway::affinity::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

/// Answers every request with the current `status` and `body`, then closes.
class metrics_server {
 public:
  explicit metrics_server(asio::io_context& ioc)
      : acceptor_(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void close() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

  int status = 200;
  std::string body;
  int requests = 0;
  std::string last_request;

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      auto sock = std::make_shared<tcp::socket>(std::move(s));
      auto buf = std::make_shared<asio::streambuf>();
      asio::async_read_until(
          *sock, *buf, "\r\n\r\n", [this, sock, buf](boost::system::error_code e, std::size_t) {
            if (e) return;
            ++requests;
            last_request.assign(asio::buffers_begin(buf->data()), asio::buffers_end(buf->data()));
            auto reply = std::make_shared<std::string>(
                "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
            asio::async_write(*sock, asio::buffer(*reply),
                              [sock, reply](boost::system::error_code, std::size_t) {
                                boost::system::error_code ignored;
                                sock->shutdown(tcp::socket::shutdown_both, ignored);
                              });
          });
      accept();
    });
  }
  tcp::acceptor acceptor_;
};

/// Runs `ioc` until `done()` or 10 s.
bool run_until(asio::io_context& ioc, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    ioc.run_one_for(20ms);
  }
  return true;
}

struct rig {
  rig() : c(std::vector<uint32_t>{1}), store(1) {
    cfg.interval = 20ms;
    cfg.path = "/metrics";
  }
  void start(uint16_t port) {
    scraper = std::make_unique<server::load_scraper>(
        ioc, cfg, c.set,
        [port](std::size_t) {
          return std::vector<tcp::endpoint>{{asio::ip::make_address("127.0.0.1"), port}};
        },
        store, clock);
    scraper->start();
  }

  asio::io_context ioc;
  endpoints c;
  config::load_report_config cfg;
  manual_clock clock;  // never advanced: a recorded report stays fresh
  health::load_report_store store;
  std::unique_ptr<server::load_scraper> scraper;
};

TEST(load_scraper, records_a_metrics_page_with_the_in_flight_count) {
  rig r;
  metrics_server srv(r.ioc);
  srv.body =
      "# TYPE vllm:num_requests_running gauge\n"
      "vllm:num_requests_running{model_name=\"m\"} 4\n"
      "vllm:num_requests_waiting{model_name=\"m\"} 2\n"
      "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.25\n";
  r.c[0].active = 3;
  r.start(srv.port());
  ASSERT_TRUE(run_until(r.ioc, [&] { return r.store.scrapes_ok(0) >= 2; }));
  const health::load_view v = r.store.read(0, r.clock.now());
  ASSERT_TRUE(v.fresh);
  EXPECT_EQ(v.running, 4u);
  EXPECT_EQ(v.waiting, 2u);
  EXPECT_EQ(v.kv_permille, 250u);
  EXPECT_EQ(v.active_at_scrape, 3u);
  EXPECT_EQ(srv.last_request.rfind("GET /metrics HTTP/1.1\r\n", 0), 0u);
  EXPECT_EQ(r.store.scrapes_failed(0), 0u);

  // The engine starts failing: the report is dropped at the next scrape.
  srv.status = 503;
  ASSERT_TRUE(run_until(r.ioc, [&] { return r.store.scrapes_failed(0) >= 1; }));
  EXPECT_FALSE(r.store.read(0, r.clock.now()).fresh);
  // A page without the metrics counts as a failure too.
  srv.status = 200;
  srv.body = "something_else 1\n";
  const uint64_t failed = r.store.scrapes_failed(0);
  ASSERT_TRUE(run_until(r.ioc, [&] { return r.store.scrapes_failed(0) > failed; }));
  EXPECT_FALSE(r.store.read(0, r.clock.now()).fresh);
  r.scraper->stop();
  srv.close();
}

TEST(load_scraper, dead_endpoint_counts_failures) {
  rig r;
  uint16_t port = 0;
  {
    metrics_server srv(r.ioc);  // take a free port, then close it again
    port = srv.port();
    srv.close();
  }
  r.ioc.restart();
  r.start(port);
  ASSERT_TRUE(run_until(r.ioc, [&] { return r.store.scrapes_failed(0) >= 2; }));
  EXPECT_EQ(r.store.scrapes_ok(0), 0u);
  EXPECT_FALSE(r.store.read(0, r.clock.now()).fresh);
  r.scraper.reset();  // destroying a running scraper stops it; pending handlers then return
  r.ioc.run_for(50ms);
}

}  // namespace
}  // namespace spillway::affinity::test
