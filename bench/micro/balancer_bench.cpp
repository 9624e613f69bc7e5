// Cost of one balancer pick() per policy and cluster size. "idle": counts never change;
// "churn": each pick takes and later releases an in-flight slot, as the data path does.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/balancer/balancer.hpp"

namespace {

using spillway::balancer::balancer;
using spillway::balancer::endpoint_set;
using spillway::balancer::make_balancer;
using spillway::config::balancer_kind;
using spillway::upstream::endpoint;

struct cluster {
  explicit cluster(int n) {
    const uint32_t weights[] = {5, 3, 2, 1};
    for (int i = 0; i < n; ++i) {
      const auto port = static_cast<uint16_t>(9000 + i);
      owned.push_back(std::make_unique<endpoint>("127.0.0.1:" + std::to_string(port),
                                                 spillway::config::host_port{"127.0.0.1", port},
                                                 weights[i % 4], 0));
      set.push_back(owned.back().get());
    }
  }
  std::vector<std::unique_ptr<endpoint>> owned;
  endpoint_set set;
};

void bm_pick_idle(benchmark::State& state, balancer_kind kind) {
  cluster c(static_cast<int>(state.range(0)));
  auto b = make_balancer(kind, c.set, 1);
  for (auto _ : state) benchmark::DoNotOptimize(b->pick({}));
}

void bm_pick_churn(benchmark::State& state, balancer_kind kind) {
  cluster c(static_cast<int>(state.range(0)));
  auto b = make_balancer(kind, c.set, 1);
  // A ring of 64 in-flight requests: each new pick releases the oldest.
  int ring[64];
  for (int& r : ring) {
    r = b->pick({});
    c.set[r]->try_acquire();
  }
  unsigned head = 0;
  for (auto _ : state) {
    const int p = b->pick({});
    benchmark::DoNotOptimize(p);
    c.set[ring[head]]->release();
    c.set[p]->try_acquire();
    ring[head] = p;
    head = (head + 1) % 64;
  }
}

#define SPILLWAY_BALANCER_BENCH(kind)                                          \
  BENCHMARK_CAPTURE(bm_pick_idle, kind, balancer_kind::kind)->Arg(3)->Arg(16); \
  BENCHMARK_CAPTURE(bm_pick_churn, kind, balancer_kind::kind)->Arg(3)->Arg(16);

SPILLWAY_BALANCER_BENCH(least_conn)
SPILLWAY_BALANCER_BENCH(round_robin)
SPILLWAY_BALANCER_BENCH(random)
SPILLWAY_BALANCER_BENCH(p2c)

}  // namespace

BENCHMARK_MAIN();
