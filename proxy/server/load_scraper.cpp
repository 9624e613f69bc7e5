#include "proxy/server/load_scraper.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>

namespace spillway::server {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

/// The scrape loop of one endpoint: scrape, wait interval, scrape again.
class load_scraper::probe : public std::enable_shared_from_this<probe> {
 public:
  probe(load_scraper& owner, std::size_t i)
      : owner_(owner), index_(i), timer_(owner.ioc_), deadline_(owner.ioc_), socket_(owner.ioc_) {}

  void start() { scrape(); }
  void stop() {
    stopped_ = true;
    timer_.cancel();
    deadline_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  const config::load_report_config& cfg() const { return owner_.cfg_; }

  void schedule() {
    if (stopped_) return;
    timer_.expires_after(cfg().interval);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->scrape();
    });
  }

  void scrape() {
    if (stopped_) return;
    auto addrs = owner_.addresses_(index_);
    if (addrs.empty()) return finish(false);
    done_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    // A scrape may take at most one interval (but never less than 100 ms).
    deadline_.expires_after(std::max<std::chrono::milliseconds>(cfg().interval, 100ms));
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->done_) return;
      boost::system::error_code e;
      self->socket_.close(e);  // the pending operation fails and finishes the scrape
    });
    asio::async_connect(
        socket_, addrs,
        [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
          self->on_connect(ec);
        });
  }

  // Handlers return at once after stop(): the owner may be gone by then.
  void on_connect(const boost::system::error_code& ec) {
    if (stopped_) return;
    if (ec) return finish(false);
    const upstream::endpoint& e = *owner_.endpoints_[index_];
    active_at_send_ = static_cast<uint32_t>(std::max(e.active.load(std::memory_order_relaxed), 0));
    req_ = {};
    req_.method(bhttp::verb::get);
    req_.target(cfg().path);
    req_.version(11);
    req_.set(bhttp::field::host, e.target.host + ":" + std::to_string(e.target.port));
    req_.set(bhttp::field::user_agent, "spillway-load-report");
    req_.set(bhttp::field::accept, "text/plain");
    req_.set(bhttp::field::connection, "close");
    bhttp::async_write(socket_, req_,
                       [self = shared_from_this()](const boost::system::error_code& e, size_t) {
                         if (e) return self->finish(false);
                         self->read();
                       });
  }

  void read() {
    if (stopped_) return;
    buffer_.clear();
    res_.emplace();
    res_->body_limit(max_body_bytes);
    bhttp::async_read(socket_, buffer_, *res_,
                      [self = shared_from_this()](const boost::system::error_code& e, size_t) {
                        self->on_read(e);
                      });
  }

  void on_read(const boost::system::error_code& ec) {
    if (stopped_) return;
    if (ec) return finish(false);
    const unsigned status = res_->get().result_int();
    if (status < 200 || status >= 300) return finish(false);
    const auto sample = health::parse_load_report(res_->get().body(), cfg());
    if (!sample) return finish(false);
    owner_.store_.record(index_, *sample, active_at_send_,
                         owner_.clock_.now() + stale_intervals * cfg().interval);
    finish(true);
  }

  void finish(bool success) {
    done_ = true;
    deadline_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    res_.reset();
    if (stopped_) return;
    if (!success) owner_.store_.invalidate(index_);
    schedule();
  }

  load_scraper& owner_;
  const std::size_t index_;
  asio::steady_timer timer_;
  asio::steady_timer deadline_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  bhttp::request<bhttp::empty_body> req_;
  std::optional<bhttp::response_parser<bhttp::string_body>> res_;
  uint32_t active_at_send_ = 0;
  bool done_ = false;
  bool stopped_ = false;
};

load_scraper::load_scraper(asio::io_context& ioc, const config::load_report_config& cfg,
                           const balancer::endpoint_set& endpoints, address_source addresses,
                           health::load_report_store& store, const clock_source& clock)
    : ioc_(ioc),
      cfg_(cfg),
      endpoints_(endpoints),
      addresses_(std::move(addresses)),
      store_(store),
      clock_(clock) {}

load_scraper::~load_scraper() {
  stop();
}

void load_scraper::start() {
  if (!probes_.empty()) return;
  const std::size_t n = std::min(endpoints_.size(), store_.size());
  for (std::size_t i = 0; i < n; ++i) {
    probes_.push_back(std::make_shared<probe>(*this, i));
    probes_.back()->start();
  }
}

void load_scraper::stop() {
  for (auto& p : probes_) p->stop();
  probes_.clear();
}

}  // namespace spillway::server
