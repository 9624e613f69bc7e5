// Cost of affinity on the data path: hashed picks with bounded loads (ring_hash, maglev),
// least_load over engine reports, cookie verification, key extraction and Prometheus parsing.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/affinity/affinity_picker.hpp"
#include "proxy/affinity/cookie.hpp"
#include "proxy/affinity/key.hpp"
#include "proxy/balancer/balancer_options.hpp"
#include "proxy/balancer/key_hash.hpp"
#include "proxy/balancer/least_load.hpp"
#include "proxy/health/load_report.hpp"

namespace {

using namespace spillway;
using config::balancer_kind;

struct cluster {
  explicit cluster(int n) {
    const uint32_t weights[] = {5, 3, 2, 1};
    for (int i = 0; i < n; ++i) {
      const auto port = static_cast<uint16_t>(9000 + i);
      owned.push_back(std::make_unique<upstream::endpoint>("10.0.0.1:" + std::to_string(port),
                                                           config::host_port{"10.0.0.1", port},
                                                           weights[i % 4], 0));
      set.push_back(owned.back().get());
    }
  }
  std::vector<std::unique_ptr<upstream::endpoint>> owned;
  balancer::endpoint_set set;
};

/// Hashed picks over random keys; each pick holds a slot for 64 picks, as the data path does.
void bm_hashed_pick(benchmark::State& state, balancer_kind kind) {
  cluster c(static_cast<int>(state.range(0)));
  auto b = balancer::make_hashing_balancer(kind, c.set, 1.25);
  b->build();
  int held[64];
  for (int& h : held) h = -1;
  unsigned head = 0;
  uint64_t draw = 1;
  for (auto _ : state) {
    draw = balancer::mix64(draw);
    const int p = b->pick_hash(balancer::mix64(draw % 1000), {}).index;  // 1000 sessions
    benchmark::DoNotOptimize(p);
    if (held[head] >= 0) c.set[held[head]]->release();
    c.set[p]->try_acquire();
    held[head] = p;
    head = (head + 1) % 64;
  }
}
BENCHMARK_CAPTURE(bm_hashed_pick, ring_hash, balancer_kind::ring_hash)->Arg(4)->Arg(16)->Arg(64);
BENCHMARK_CAPTURE(bm_hashed_pick, maglev, balancer_kind::maglev)->Arg(4)->Arg(16)->Arg(64);

void bm_least_load_pick(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  cluster c(n);
  health::load_report_store store(c.set.size());
  const auto& clock = system_clock_source::instance();
  for (int i = 0; i < n; ++i)
    store.record(i, {.waiting = double(i % 3), .running = double(i % 7), .kv_usage = 0.3}, 0,
                 clock.now() + std::chrono::hours(1));
  balancer::least_load b(c.set, &store, clock);
  for (auto _ : state) benchmark::DoNotOptimize(b.pick({}));
}
BENCHMARK(bm_least_load_pick)->Arg(4)->Arg(16)->Arg(64);

void bm_cookie_verify(benchmark::State& state) {
  config::affinity_cookie_config cfg;
  cfg.secret = "a-secret-of-enough-bytes";
  const affinity::cookie_signer s(cfg, "engines");
  const std::string v = s.encode("engine-a.internal:9000", 1'760'000'000);
  for (auto _ : state) benchmark::DoNotOptimize(s.verify(v, 1'760'000'000));
}
BENCHMARK(bm_cookie_verify);

void bm_prefix_key(benchmark::State& state) {
  const std::string body =
      R"({"model":"m","stream":true,"messages":[{"role":"system","content":")" +
      std::string(static_cast<std::size_t>(state.range(0)), 's') +
      R"("},{"role":"user","content":"What is the capital of France?"}]})";
  for (auto _ : state) benchmark::DoNotOptimize(affinity::prefix_key(body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(bm_prefix_key)->Arg(1024)->Arg(16 * 1024);

void bm_header_affinity(benchmark::State& state) {
  cluster c(16);
  config::affinity_config cfg;
  cfg.key = config::affinity_key_kind::header;
  cfg.key_arg = "X-Session-ID";
  auto fallback = balancer::make_balancer(balancer_kind::least_conn, c.set, 1);
  affinity::affinity_picker picker(cfg, balancer_kind::ring_hash, c.set, *fallback, nullptr);
  http::request_head h;
  h.headers.add("Host", "example");
  h.headers.add("X-Session-ID", "4f1c2a9e-5b7d-4e0a-9c3f-2d8b6a1e7f00");
  for (auto _ : state) benchmark::DoNotOptimize(picker.pick(picker.resolve(h, {}, 0), {}));
}
BENCHMARK(bm_header_affinity);

void bm_parse_load_report(benchmark::State& state) {
  std::string page;
  for (int i = 0; i < 40; ++i) {
    page += "# HELP vllm:metric_" + std::to_string(i) + " Something.\n";
    page += "# TYPE vllm:metric_" + std::to_string(i) + " histogram\n";
    for (int b = 0; b < 8; ++b)
      page += "vllm:metric_" + std::to_string(i) + "_bucket{le=\"" + std::to_string(b) +
              ".5\",model_name=\"meta-llama/Llama-3.1-8B\"} " + std::to_string(i * b) + "\n";
  }
  page += "vllm:num_requests_running{model_name=\"m\"} 3\n";
  page += "vllm:num_requests_waiting{model_name=\"m\"} 1\n";
  page += "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.5\n";
  const config::load_report_config cfg;
  for (auto _ : state) benchmark::DoNotOptimize(health::parse_load_report(page, cfg));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * page.size()));
}
BENCHMARK(bm_parse_load_report);

}  // namespace

BENCHMARK_MAIN();
