#include "proxy/server/server.hpp"

#include <csignal>
#include <thread>

#include "cache/redis_client.hpp"
#include "cache/response_cache.hpp"
#include "common/log.hpp"
#include "config/address.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/server/tls_context.hpp"

namespace spillway::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
uint32_t worker_count(const config::proxy_config& c) {
  if (c.workers > 0) return c.workers;
  return std::max(1u, std::thread::hardware_concurrency());
}

bool resolve_listen_address(const std::string& text, tcp::endpoint& out) {
  auto hp = config::parse_host_port(text);
  if (!hp) return false;
  boost::system::error_code ec;
  auto addr = hp->host.empty() ? asio::ip::address(asio::ip::address_v4::any())
                               : asio::ip::make_address(hp->host, ec);
  if (ec) {
    asio::io_context ioc;
    tcp::resolver r(ioc);
    auto results = r.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec || results.empty()) return false;
    out = results.begin()->endpoint();
    return true;
  }
  out = tcp::endpoint(addr, hp->port);
  return true;
}
}  // namespace

server::server(std::shared_ptr<const config::proxy_config> cfg)
    : rt_(std::make_shared<runtime>(cfg, worker_count(*cfg))),
      signals_(control_, SIGTERM, SIGINT, SIGHUP),
      drain_timer_(control_),
      resolve_timer_(control_),
      control_timer_(control_) {
  signals_.add(SIGUSR1);
  for (auto& c : rt_->clusters) c->resolve_all();
  const uint32_t n = worker_count(*rt_->config);
  config_path_ = rt_->config->source_file;
  if (rt_->config->access_log)
    access_log_ = std::make_unique<admin::access_log>(*rt_->config->access_log);
  make_cache();
  for (uint32_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<worker>(i, rt_));
    workers_.back()->set_access_log(access_log_.get());
    workers_.back()->set_cache(cache_.get(), &cache_dispatch_open_);
  }
  admin_ = std::make_unique<admin::admin_server>(control_, *this);
}

server::~server() {
  for (auto& w : workers_) w->stop();
  for (auto& w : workers_) w->join();
  stop_cache();
}

bool server::ready() const noexcept {
  if (draining_) return false;
  for (const auto& c : rt_->clusters)
    for (size_t i = 0; i < c->size(); ++i)
      if (c->at(i).available()) return true;
  return false;
}

bool server::bind_listeners() {
  for (auto& l : rt_->listeners) {
    if (l->cfg.tls) {
      auto tls = make_tls_context(*l->cfg.tls, l->cfg.http2);
      if (!tls.context) {
        log::error("listener {}: tls: {}", l->cfg.name, tls.error);
        return false;
      }
      l->set_tls(std::move(tls.context));
    }
    tcp::endpoint at;
    if (!resolve_listen_address(l->cfg.address, at)) {
      log::error("listener {}: cannot resolve address {}", l->cfg.name, l->cfg.address);
      return false;
    }
    // The workers bind with SO_REUSEPORT, which would silently share the port with another
    // process doing the same (say a second spillway): a probe without it fails in that case.
    {
      tcp::acceptor probe(control_);
      boost::system::error_code ec;
      probe.open(at.protocol(), ec);
      if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) probe.bind(at, ec);
      if (ec) {
        log::error("listener {}: cannot listen on {}: {}", l->cfg.name, l->cfg.address,
                   ec.message());
        return false;
      }
    }
    for (auto& w : workers_) {
      if (auto ec = w->listen(*l, at)) {
        log::error("listener {}: cannot listen on {}: {}", l->cfg.name, l->cfg.address,
                   ec.message());
        return false;
      }
    }
    log::info("listener {} on {} ({} workers)", l->cfg.name, l->cfg.address, workers_.size());
  }
  return true;
}

int server::run() {
  if (access_log_) {
    if (auto err = access_log_->reopen(); !err.empty()) {
      log::error("{}", err);
      return 1;
    }
  }
  if (!bind_listeners()) return 1;
  if (rt_->config->admin) {
    tcp::endpoint at;
    if (!resolve_listen_address(rt_->config->admin->address, at)) {
      log::error("admin: cannot resolve address {}", rt_->config->admin->address);
      return 1;
    }
    if (auto ec = admin_->listen(at)) {
      log::error("admin: cannot listen on {}: {}", rt_->config->admin->address, ec.message());
      return 1;
    }
    log::info("admin on {}", rt_->config->admin->address);
  }
  start_cache();
  for (auto& w : workers_) w->start();
  start_health_checks();
  schedule_control_tick();
  signals_.async_wait(
      [this](const boost::system::error_code& ec, int signo) { on_signal(ec, signo); });
  schedule_resolve();
  control_.run();
  if (rt_->policy_redis) rt_->policy_redis->shutdown();  // no Redis answer after the workers
  for (auto& w : workers_) w->stop();
  for (auto& w : workers_) w->join();
  stop_cache();
  log::info("stopped");
  return 0;
}

void server::on_signal(const boost::system::error_code& ec, int signo) {
  if (ec) return;
  if (signo == SIGUSR1) {
    if (access_log_) {
      auto err = access_log_->reopen();
      if (err.empty())
        log::info("SIGUSR1: access log reopened");
      else
        log::error("SIGUSR1: {}", err);
    }
  } else if (signo == SIGHUP) {
    if (!draining_) reload("SIGHUP");
  } else {
    log::info("signal {}: draining (up to {} ms)", signo, rt_->config->drain_timeout.count());
    begin_drain();
  }
  signals_.async_wait([this](const boost::system::error_code& e, int s) { on_signal(e, s); });
}

void server::begin_drain() {
  if (draining_) return;
  draining_ = true;
  drain_deadline_ = std::chrono::steady_clock::now() + rt_->config->drain_timeout;
  resolve_timer_.cancel();
  for (auto& c : checkers_) c->stop();
  for (auto& s : scrapers_) s->stop();
  if (admin_) admin_->close();
  for (auto& w : workers_) w->begin_drain();
  check_drained();
}

void server::check_drained() {
  int64_t open = 0;
  for (const auto& w : workers_)
    open += w->stats().connections_open.load(std::memory_order_relaxed);
  if (open == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
    if (open > 0) log::warn("drain timeout: closing {} connections", open);
    control_.stop();
    return;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(50));
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) check_drained();
  });
}

void server::schedule_control_tick() {
  control_timer_.expires_after(std::chrono::milliseconds(100));
  control_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    for (auto& c : rt_->clusters) c->control_tick();
    // Requests of a replaced runtime may still wait in its queues; workers release slots on
    // the shared endpoints, so they are woken here.
    std::erase_if(retired_, [](const std::weak_ptr<const runtime>& w) { return w.expired(); });
    for (const auto& w : retired_)
      if (auto old = w.lock())
        for (auto& c : old->clusters) c->wake_for_free_slots();
    schedule_control_tick();
  });
}

void server::schedule_resolve() {
  resolve_timer_.expires_after(std::chrono::seconds(30));
  resolve_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    for (auto& c : rt_->clusters) c->resolve_all();
    schedule_resolve();
  });
}

}  // namespace spillway::server
