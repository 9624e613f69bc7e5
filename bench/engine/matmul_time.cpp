// The CPU backend's matrix products alone, by process CPU time: one decode step's products of the
// `small` preset (6 layers of Q, K, V, O, W1, W2, W3 and the classifier: 61 MB of packed random
// weights in huge pages) at several batch sizes, median and best of repeated runs, as weight GB/s
// and multiply-adds per second. Built and run by matmul_time.sh.
//
//   matmul_time [THREADS [ISA]]
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "upstream-engine/reference/cpu_ops.hpp"

using namespace spillway::engine::reference;

namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  struct shape {
    int in, out;
  };
  std::vector<shape> shapes;
  for (int l = 0; l < 6; ++l)
    for (const shape s : {shape{288, 288}, shape{288, 288}, shape{288, 288}, shape{288, 288},
                          shape{288, 768}, shape{768, 288}, shape{288, 768}})
      shapes.push_back(s);
  shapes.push_back({288, 32000});
  size_t total = 0;
  for (const shape s : shapes) total += packed_floats(s.in, s.out);
  constexpr size_t huge = size_t{2} << 20;
  void* m =
      mmap(nullptr, total * 4 + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 1;
  auto* base = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(m) + huge - 1) & ~(huge - 1));
  madvise(base, total * 4, MADV_HUGEPAGE);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1, 1);
  for (size_t i = 0; i < total; ++i) base[i] = d(rng);
  std::vector<packed_matrix> mats;
  float* p = base;
  for (const shape s : shapes) {
    mats.push_back({p, s.in, s.out});
    p += packed_floats(s.in, s.out);
  }
  const int max_rows = 64;
  std::vector<float> x(static_cast<size_t>(max_rows) * 768),
      out(static_cast<size_t>(max_rows) * 32000);
  for (auto& v : x) v = d(rng);
  thread_pool pool(argc > 1 ? std::atoi(argv[1]) : 1);
  if (argc > 2 && !use_kernel_isa(argv[2])) return 2;
  std::printf("kernels %s, %.1f MB of weights, %d thread(s)\n\n", kernel_isa(), total * 4 / 1e6,
              pool.size());
  std::printf(
      "| rows | ms (median) | ms (best) | weights GB/s (best) | G multiply-adds/s (best) |\n");
  std::printf("|---|---|---|---|---|\n");
  for (int rows : {1, 2, 4, 8, 16, 64}) {
    std::vector<double> t;
    for (int it = 0; it < (rows > 16 ? 7 : 31); ++it) {
      const double c0 = cpu_seconds();
      for (const auto& mm : mats) matmul(out.data(), x.data(), mm, rows, pool);
      t.push_back(cpu_seconds() - c0);
    }
    std::sort(t.begin(), t.end());
    double madds = 0;
    for (const shape s : shapes) madds += 1.0 * s.in * s.out * rows;
    std::printf("| %d | %.3f | %.3f | %.1f | %.1f |\n", rows, t[t.size() / 2] * 1e3, t[0] * 1e3,
                total * 4 / t[0] / 1e9, madds / t[0] / 1e9);
  }
  return 0;
}
