// Seeded, precomputed open-loop arrival schedule built from phases (constant rate, linear ramp,
// rate steps, instant bursts). Arrivals are drawn in "operational time": increments with mean 1
// (exactly 1 for constant, Exp(1) for Poisson, Gamma(k, 1/k) for gamma with burstiness k, as in
// vLLM's benchmark_serving) are mapped to wall time through the inverse of the integrated rate
// Λ(t) = ∫ r, which for a linear ramp is a quadratic (time-rescaling theorem for
// inhomogeneous Poisson processes; Brown et al. 2002). The same seed gives the same schedule.
// Pure computation; no threads, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.hpp"

namespace spillway::loadgen {

enum class arrival_kind { constant, poisson, gamma };

std::optional<arrival_kind> parse_arrival(std::string_view s);
std::string_view to_string(arrival_kind k);

struct phase {
  std::chrono::nanoseconds duration{0};
  double rate = 0;                      // requests/s at the phase start
  std::optional<double> rate_end;       // linear ramp to this rate at the phase end
  std::optional<arrival_kind> arrival;  // default: the schedule's
  std::optional<double> burstiness;     // gamma shape; default: the schedule's
  uint64_t burst = 0;  // requests all sent at the phase start (before the rate part)
};

struct schedule_spec {
  std::vector<phase> phases;
  arrival_kind arrival = arrival_kind::constant;
  double burstiness = 1.0;
  uint64_t seed = 1;
  uint64_t max_requests = 0;  // 0 = no limit
};

/// Send offsets (from the run start), non-decreasing, in nanoseconds.
std::vector<int64_t> build_schedule(const schedule_spec& spec);

/// Total length of all phases.
std::chrono::nanoseconds schedule_length(const schedule_spec& spec);

/// Gamma(shape, 1) sample (Marsaglia & Tsang 2000; shape < 1 boosted by U^(1/shape)).
double sample_gamma(xoshiro256& rng, double shape);
/// Exp(1) sample.
double sample_exponential(xoshiro256& rng);

}  // namespace spillway::loadgen
