#include "loadgen/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace spillway::loadgen {

histogram::histogram(unsigned precision_bits, uint64_t max_value)
    : p_(std::clamp(precision_bits, 2u, 16u)), max_value_(std::max<uint64_t>(max_value, 1)) {
  counts_.assign(index_of(max_value_) + 1, 0);
}

size_t histogram::index_of(uint64_t v) const noexcept {
  const uint64_t exact = uint64_t{1} << p_;
  if (v < exact) return static_cast<size_t>(v);
  const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
  const unsigned shift = msb - (p_ - 1);
  const uint64_t half = uint64_t{1} << (p_ - 1);
  // (v >> shift) lies in [half, 2*half): consecutive octaves take consecutive runs of `half`.
  return static_cast<size_t>(uint64_t{shift} * half + (v >> shift));
}

uint64_t histogram::lowest_equivalent(size_t index) const noexcept {
  const uint64_t exact = uint64_t{1} << p_;
  if (index < exact) return index;
  const uint64_t half = uint64_t{1} << (p_ - 1);
  const uint64_t shift = (index - half) / half;  // index = shift*half + m, m in [half, 2*half)
  const uint64_t m = index - shift * half;
  return m << shift;
}

uint64_t histogram::highest_equivalent(size_t index) const noexcept {
  const uint64_t exact = uint64_t{1} << p_;
  if (index < exact) return index;
  const uint64_t half = uint64_t{1} << (p_ - 1);
  const uint64_t shift = (index - half) / half;
  return lowest_equivalent(index) + (uint64_t{1} << shift) - 1;
}

void histogram::record_n(uint64_t value, uint64_t n) noexcept {
  if (n == 0) return;
  counts_[index_of(std::min(value, max_value_))] += n;
  count_ += n;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  const double v = static_cast<double>(value);
  sum_ += v * static_cast<double>(n);
  sum_sq_ += static_cast<long double>(v) * v * n;
}

void histogram::merge(const histogram& o) noexcept {
  if (o.count_ == 0) return;
  const size_t n = std::min(counts_.size(), o.counts_.size());
  for (size_t i = 0; i < n; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  sum_ += o.sum_;
  sum_sq_ += o.sum_sq_;
}

void histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
  sum_sq_ = 0;
}

double histogram::mean() const noexcept {
  return count_ ? sum_ / static_cast<double>(count_) : 0;
}

double histogram::stddev() const noexcept {
  if (count_ < 2) return 0;
  const long double n = count_;
  const long double m = sum_ / n;
  const long double var = sum_sq_ / n - m * m;
  return var > 0 ? static_cast<double>(std::sqrt(var)) : 0;
}

uint64_t histogram::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(highest_equivalent(i), min_, max_);
  }
  return max_;
}

}  // namespace spillway::loadgen
