// Log-linear latency histogram in the style of HdrHistogram (Gil Tene): values below 2^p are
// counted exactly; above, each power-of-two range is split into 2^(p-1) equal sub-buckets, so a
// reported value is within a relative 2^-(p-1) of the true one. Percentiles use the nearest-rank
// definition and return the bucket's highest equivalent value (never understated), clamped to the
// observed min and max. Mean and standard deviation come from exact running sums.
// Not thread-safe: each driver thread owns its histograms; merge() combines them afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spillway::loadgen {

class histogram {
 public:
  /// `precision_bits` p in [2, 16]; values above `max_value` are clamped into the last bucket.
  explicit histogram(unsigned precision_bits = 10, uint64_t max_value = uint64_t{1} << 42);

  void record(uint64_t value) noexcept { record_n(value, 1); }
  void record_n(uint64_t value, uint64_t count) noexcept;
  /// Adds another histogram's counts; both must have the same precision and range.
  void merge(const histogram& other) noexcept;
  void reset() noexcept;

  uint64_t count() const noexcept { return count_; }
  uint64_t min() const noexcept { return count_ ? min_ : 0; }
  uint64_t max() const noexcept { return max_; }
  double mean() const noexcept;
  double stddev() const noexcept;
  /// Nearest-rank percentile, `q` in [0, 100]; 0 when empty.
  uint64_t percentile(double q) const noexcept;

  /// Bucket index of a value and the range of values sharing it, for tests and plots.
  size_t index_of(uint64_t value) const noexcept;
  uint64_t lowest_equivalent(size_t index) const noexcept;
  uint64_t highest_equivalent(size_t index) const noexcept;
  size_t bucket_count() const noexcept { return counts_.size(); }
  uint64_t count_at(size_t index) const noexcept { return counts_[index]; }
  unsigned precision_bits() const noexcept { return p_; }

 private:
  unsigned p_;
  uint64_t max_value_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;
  long double sum_sq_ = 0;
};

}  // namespace spillway::loadgen
