// server::reload: re-read the config file, build a runtime that continues the running one, and
// hand it to the workers, the health checkers and the admin views (see server.hpp).
#include <chrono>

#include <fmt/format.h>

#include "common/log.hpp"
#include "config/loader.hpp"
#include "proxy/server/restart_check.hpp"
#include "proxy/server/server.hpp"
#include "proxy/server/tls_context.hpp"

namespace spillway::server {

server::reload_result server::reload(std::string_view trigger) {
  reload_result out;
  const auto started = std::chrono::steady_clock::now();
  const auto failed = [&]() -> reload_result& {
    ++reloads_failed_;
    log::error("{}: reload of {} failed, keeping the running configuration ({} error{})", trigger,
               config_path_, out.errors.size(), out.errors.size() == 1 ? "" : "s");
    for (const auto& e : out.errors) log::error("  {}", e);
    return out;
  };
  auto loaded = config::load_file(config_path_);
  for (const auto& w : loaded.warnings) out.warnings.push_back(w.to_string());
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) out.errors.push_back(e.to_string());
    if (out.errors.empty()) out.errors.push_back(config_path_ + ": configuration not loaded");
    return failed();
  }
  for (auto& w : needs_restart(*rt_->config, *loaded.config)) out.warnings.push_back(std::move(w));
  // Certificates are read again on every reload (rotated files keep their names); one that
  // does not load fails the reload and the listener keeps the certificate it has.
  std::vector<std::pair<listener_shared*, std::shared_ptr<boost::asio::ssl::context>>> tls;
  for (size_t i = 0; i < rt_->listeners.size() && i < loaded.config->listeners.size(); ++i) {
    auto& l = *rt_->listeners[i];
    const auto& next = loaded.config->listeners[i];
    if (!l.cfg.tls || !next.tls) continue;
    auto made = make_tls_context(*next.tls, l.cfg.http2);
    if (!made.context)
      out.errors.push_back(fmt::format("listeners[{}].tls: {}", i, made.error));
    else
      tls.emplace_back(&l, std::move(made.context));
  }
  if (!out.errors.empty()) return failed();
  for (auto& [l, ctx] : tls) l->set_tls(std::move(ctx));
  // Idempotency records need the cache tiers, which are made at start-up (server_cache.cpp).
  for (size_t i = 0; i < loaded.config->routes.size() && !cache_; ++i)
    if (loaded.config->routes[i].idempotency)
      out.warnings.push_back("routes[" + std::to_string(i) +
                             "].idempotency: no cache tiers in the running process; it takes "
                             "effect after a restart");

  auto next = std::make_shared<runtime>(loaded.config, workers_.size(), *rt_);
  // New endpoints resolve now; the ones that stay brought their addresses along.
  for (auto& c : next->clusters) c->resolve_all();

  for (auto& c : checkers_) c->stop();
  checkers_.clear();
  for (auto& s : scrapers_) s->stop();
  scrapers_.clear();
  retired_.push_back(rt_);
  rt_ = next;
  for (auto& w : workers_) w->swap_runtime(next);
  if (!draining_) start_health_checks();

  ++reloads_ok_;
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  log::info("{}: configuration reloaded from {} in {:.1f} ms ({} clusters, {} routes)", trigger,
            config_path_, ms, rt_->clusters.size(), rt_->config->routes.size());
  for (const auto& w : out.warnings) log::warn("  {}", w);
  out.ok = true;
  return out;
}

size_t server::retired_runtimes() const noexcept {
  size_t n = 0;
  for (const auto& w : retired_) n += w.expired() ? 0 : 1;
  return n;
}

void server::start_health_checks() {
  for (auto& c : rt_->clusters) {
    checkers_.push_back(std::make_unique<health_checker>(control_, *c));
    checkers_.back()->start();
    const upstream::cluster* cl = c.get();
    health::load_report_store* store = rt_->policies[cl->index()]->reports.get();
    if (!store) continue;
    scrapers_.push_back(std::make_unique<load_scraper>(
        control_, *cl->config().load_report, cl->endpoint_set(),
        [cl](size_t i) { return cl->addresses(i); }, *store));
    scrapers_.back()->start();
  }
}

}  // namespace spillway::server
