#include "loadgen/schedule.hpp"

#include <cmath>

namespace spillway::loadgen {

std::optional<arrival_kind> parse_arrival(std::string_view s) {
  if (s == "constant" || s == "uniform") return arrival_kind::constant;
  if (s == "poisson") return arrival_kind::poisson;
  if (s == "gamma") return arrival_kind::gamma;
  return std::nullopt;
}

std::string_view to_string(arrival_kind k) {
  switch (k) {
    case arrival_kind::constant:
      return "constant";
    case arrival_kind::poisson:
      return "poisson";
    case arrival_kind::gamma:
      return "gamma";
  }
  return "constant";
}

double sample_exponential(xoshiro256& rng) {
  return -std::log1p(-rng.uniform());  // uniform() < 1, so the argument stays > 0
}

namespace {

double sample_normal(xoshiro256& rng) {
  // Marsaglia polar method; the second deviate is dropped to keep the generator stateless.
  for (;;) {
    const double u = 2 * rng.uniform() - 1;
    const double v = 2 * rng.uniform() - 1;
    const double s = u * u + v * v;
    if (s > 0 && s < 1) return u * std::sqrt(-2 * std::log(s) / s);
  }
}

}  // namespace

double sample_gamma(xoshiro256& rng, double shape) {
  if (shape < 1) {
    double u = rng.uniform();
    while (u <= 0) u = rng.uniform();
    return sample_gamma(rng, shape + 1) * std::pow(u, 1 / shape);
  }
  const double d = shape - 1.0 / 3;
  const double c = 1 / std::sqrt(9 * d);
  for (;;) {
    double x, v;
    do {
      x = sample_normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = rng.uniform();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v;
  }
}

std::chrono::nanoseconds schedule_length(const schedule_spec& spec) {
  std::chrono::nanoseconds total{0};
  for (const auto& p : spec.phases) total += p.duration;
  return total;
}

namespace {

/// Wall time inside a phase at which the integrated rate reaches `l`:
/// solves r0*t + (r1-r0)*t^2/(2D) = l in the cancellation-free form 2l / (b + sqrt(b^2 + 4al)).
double invert_integrated_rate(double r0, double r1, double d, double l) {
  if (l <= 0) return 0;
  const double a = (r1 - r0) / (2 * d);
  const double b = r0;
  const double disc = b * b + 4 * a * l;
  const double den = b + std::sqrt(std::max(disc, 0.0));
  return den > 0 ? 2 * l / den : d;
}

double draw_increment(xoshiro256& rng, arrival_kind kind, double burstiness) {
  switch (kind) {
    case arrival_kind::constant:
      return 1;
    case arrival_kind::poisson:
      return sample_exponential(rng);
    case arrival_kind::gamma: {
      const double k = burstiness > 0 ? burstiness : 1;
      return sample_gamma(rng, k) / k;
    }
  }
  return 1;
}

}  // namespace

std::vector<int64_t> build_schedule(const schedule_spec& spec) {
  std::vector<int64_t> out;
  xoshiro256 rng(spec.seed);
  const auto full = [&] { return spec.max_requests && out.size() >= spec.max_requests; };
  double phase_start = 0;  // seconds
  // Operational-time position of the next arrival, relative to the current phase's start.
  double next = -1;
  for (const auto& p : spec.phases) {
    const double d = std::chrono::duration<double>(p.duration).count();
    for (uint64_t i = 0; i < p.burst && !full(); ++i)
      out.push_back(static_cast<int64_t>(std::llround(phase_start * 1e9)));
    const arrival_kind kind = p.arrival.value_or(spec.arrival);
    const double k = p.burstiness.value_or(spec.burstiness);
    const double r0 = std::max(p.rate, 0.0);
    const double r1 = std::max(p.rate_end.value_or(p.rate), 0.0);
    const double total = d > 0 ? (r0 + r1) / 2 * d : 0;  // Λ over the phase
    if (next < 0) next = kind == arrival_kind::constant ? 0 : draw_increment(rng, kind, k);
    while (total > 0 && next < total && !full()) {
      const double t = invert_integrated_rate(r0, r1, d, next);
      out.push_back(static_cast<int64_t>(std::llround((phase_start + std::min(t, d)) * 1e9)));
      next += draw_increment(rng, kind, k);
    }
    if (total > 0) next -= total;
    phase_start += d;
    if (full()) break;
  }
  return out;
}

}  // namespace spillway::loadgen
