#include "proxy/server/health_checker.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>

#include "common/log.hpp"

namespace spillway::server {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

/// The check loop of one endpoint: wait interval, connect, GET, read the status, record.
class health_checker::probe : public std::enable_shared_from_this<probe> {
 public:
  probe(asio::io_context& ioc, upstream::cluster& c, size_t i)
      : cluster_(c),
        index_(i),
        cfg_(*c.config().health_check),
        timer_(ioc),
        deadline_(ioc),
        socket_(ioc) {}

  void start() { check(); }
  void stop() {
    stopped_ = true;
    timer_.cancel();
    deadline_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void schedule() {
    if (stopped_) return;
    timer_.expires_after(cfg_.interval);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->check();
    });
  }

  void check() {
    if (stopped_) return;
    auto addrs = cluster_.addresses(index_);
    if (addrs.empty()) return finish(false);
    done_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    deadline_.expires_after(cfg_.timeout);
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->done_) return;
      boost::system::error_code e;
      self->socket_.close(e);  // the pending operation fails and finishes the check
    });
    asio::async_connect(
        socket_, addrs,
        [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
          self->on_connect(ec);
        });
  }

  void on_connect(const boost::system::error_code& ec) {
    if (stopped_) return;  // a reload may have replaced the cluster
    if (ec) return finish(false);
    req_ = {};
    req_.method(bhttp::verb::get);
    req_.target(cfg_.path);
    req_.version(11);
    const auto& target = cluster_.at(index_).target;
    req_.set(bhttp::field::host, target.host + ":" + std::to_string(target.port));
    req_.set(bhttp::field::user_agent, "spillway-health-check");
    req_.set(bhttp::field::connection, "close");
    bhttp::async_write(socket_, req_,
                       [self = shared_from_this()](const boost::system::error_code& e, size_t) {
                         if (e) return self->finish(false);
                         self->read();
                       });
  }

  void read() {
    buffer_.clear();
    res_.emplace();
    res_->body_limit(64 * 1024);
    bhttp::async_read(socket_, buffer_, *res_,
                      [self = shared_from_this()](const boost::system::error_code& e, size_t) {
                        const unsigned status = e ? 0 : self->res_->get().result_int();
                        self->finish(status >= 200 && status < 300);
                      });
  }

  void finish(bool success) {
    done_ = true;
    deadline_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (stopped_) return;
    auto* state = cluster_.health_state(index_);
    if (state && state->record(success))
      log::info("cluster {}: endpoint {} is {}", cluster_.name(), cluster_.at(index_).address,
                health::to_string(state->status()));
    schedule();
  }

  upstream::cluster& cluster_;
  const size_t index_;
  const config::health_check_config& cfg_;
  asio::steady_timer timer_;
  asio::steady_timer deadline_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  bhttp::request<bhttp::empty_body> req_;
  std::optional<bhttp::response_parser<bhttp::string_body>> res_;
  bool done_ = false;
  bool stopped_ = false;
};

health_checker::health_checker(asio::io_context& ioc, upstream::cluster& c)
    : ioc_(ioc), cluster_(c) {}

health_checker::~health_checker() {
  stop();
}

void health_checker::start() {
  if (!cluster_.config().health_check) return;
  for (size_t i = 0; i < cluster_.size(); ++i) {
    probes_.push_back(std::make_shared<probe>(ioc_, cluster_, i));
    probes_.back()->start();
  }
}

void health_checker::stop() {
  for (auto& p : probes_) p->stop();
  probes_.clear();
}

}  // namespace spillway::server
