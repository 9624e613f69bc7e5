#include "proxy/split/cluster_split.hpp"

#include "proxy/balancer/key_hash.hpp"

namespace spillway::split {

cluster_split::cluster_split(std::vector<int> clusters, const std::vector<uint32_t>& weights) {
  for (size_t i = 0; i < clusters.size() && i < weights.size(); ++i) {
    if (weights[i] == 0 || clusters[i] < 0) continue;
    total_ += weights[i];
    ranges_.push_back({total_, clusters[i]});
  }
}

int cluster_split::pick(std::optional<uint64_t> key, uint64_t random) const noexcept {
  if (ranges_.empty()) return -1;
  if (ranges_.size() == 1) return ranges_.front().cluster;
  // Multiply-shift maps 64 uniform bits onto [0, total) without modulo bias worth noticing
  // (Lemire 2019); a key is mixed first so nearby keys spread.
  const uint64_t bits = key ? balancer::mix64(*key ^ 0x73706c6974ULL) : random;
  const uint64_t point =
      static_cast<uint64_t>((static_cast<unsigned __int128>(bits) * total_) >> 64);
  for (const auto& r : ranges_)
    if (point < r.end) return r.cluster;
  return ranges_.back().cluster;
}

}  // namespace spillway::split
