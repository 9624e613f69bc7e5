#include "loadgen/runner.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <barrier>
#include <cstdio>
#include <thread>

#include "loadgen/driver.hpp"
#include "loadgen/prompts.hpp"
#include "loadgen/request_factory.hpp"

namespace spillway::loadgen {

namespace {

std::optional<tcp::endpoint> resolve(const url& u, std::string& error) {
  asio::io_context io;
  tcp::resolver resolver(io);
  error_code ec;
  auto results = resolver.resolve(u.host, std::to_string(u.port), ec);
  if (ec || results.empty()) {
    error = "cannot resolve " + u.host + ": " + ec.message();
    return std::nullopt;
  }
  return results.begin()->endpoint();
}

std::string format_ms(uint64_t ns) {
  return fmt::format("{:.2f}ms", static_cast<double>(ns) / 1e6);
}

void print_progress(const std::vector<std::unique_ptr<progress_slot>>& slots, int64_t now,
                    uint64_t& last_done) {
  uint64_t sent = 0, done = 0, errors = 0, in_flight = 0, p99 = 0;
  for (const auto& s : slots) {
    sent += s->sent.load(std::memory_order_relaxed);
    done += s->done.load(std::memory_order_relaxed);
    errors += s->errors.load(std::memory_order_relaxed);
    in_flight += s->in_flight.load(std::memory_order_relaxed);
    p99 = std::max(p99, s->p99_ns.load(std::memory_order_relaxed));
  }
  const uint64_t rate = done - last_done;
  last_done = done;
  const std::string line = fmt::format(
      "\r[{:6.1f}s] sent {}  done {}  rate {}/s  in flight {}  errors {}  p99 {}   ",
      static_cast<double>(now) / 1e9, sent, done, rate, in_flight, errors, format_ms(p99));
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

std::optional<run_result> run_load(const options& o, const url& target,
                                   const std::vector<int64_t>& schedule, bool show_progress,
                                   std::string& error) {
  auto endpoint = resolve(target, error);
  if (!endpoint) return std::nullopt;
  std::optional<prompt_source> prompts;
  if (o.openai) {
    prompts = prompt_source::create(o, error);
    if (!prompts) return std::nullopt;
  }
  request_factory factory(o, target, std::move(prompts));
  std::unique_ptr<asio::ssl::context> tls;
  if (target.tls) tls = make_tls_context(o.tls_verify);

  std::unique_ptr<jsonl_sink> jsonl;
  std::FILE* jsonl_file = nullptr;
  if (!o.requests_out.empty()) {
    jsonl_file = std::fopen(o.requests_out.c_str(), "w");
    if (!jsonl_file) {
      error = "cannot write " + o.requests_out;
      return std::nullopt;
    }
    jsonl = std::make_unique<jsonl_sink>(jsonl_file);
  }

  run_plan plan;
  plan.opts = &o;
  plan.factory = &factory;
  plan.endpoint = *endpoint;
  plan.tls = tls.get();
  plan.schedule = o.open_loop() ? schedule : std::vector<int64_t>{};
  plan.threads = o.threads;

  const unsigned n = o.threads;
  std::vector<std::unique_ptr<collector>> cols;
  std::vector<std::unique_ptr<progress_slot>> slots;
  std::vector<std::unique_ptr<driver>> drivers;
  for (unsigned i = 0; i < n; ++i) {
    cols.push_back(std::make_unique<collector>(o, jsonl.get()));
    slots.push_back(std::make_unique<progress_slot>());
    drivers.push_back(std::make_unique<driver>(plan, i, *cols[i], *slots[i]));
  }
  if (show_progress) {
    drivers[0]->on_second = [&slots, last_done = uint64_t{0}](int64_t now) mutable {
      print_progress(slots, now, last_done);
    };
  }

  std::chrono::steady_clock::time_point t0;
  std::barrier sync(static_cast<std::ptrdiff_t>(n), [&t0]() noexcept {
    t0 = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
  });
  const auto body = [&](unsigned i) {
    driver& d = *drivers[i];
    d.preconnect();
    const auto deadline = std::chrono::steady_clock::now() + o.timeout;
    while (!d.preconnected() && std::chrono::steady_clock::now() < deadline) {
      if (d.io().run_one_until(deadline) == 0 && d.io().stopped()) break;
    }
    d.io().restart();
    sync.arrive_and_wait();
    d.begin(t0);
    d.io().run();
  };
  const auto started_wall = std::chrono::system_clock::now();
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < n; ++i) threads.emplace_back(body, i);
  body(0);
  for (auto& t : threads) t.join();
  const auto ended = std::chrono::steady_clock::now();
  if (show_progress) std::fputs("\n", stdout);

  run_result res;
  res.stats = std::make_unique<collector>(o, nullptr);
  for (auto& c : cols) res.stats->merge(*c);
  res.target = target.scheme() + "://" + target.authority() + target.target;
  res.started_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(started_wall.time_since_epoch())
          .count();
  res.wall_seconds = std::chrono::duration<double>(ended - t0).count();
  res.scheduled = plan.schedule.size();
  drivers.clear();
  jsonl.reset();
  if (jsonl_file) std::fclose(jsonl_file);
  return res;
}

}  // namespace spillway::loadgen
