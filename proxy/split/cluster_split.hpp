// Weighted split of a route's traffic between clusters (SPEC §2.1 routes[].clusters with
// weights: canary, blue-green, "primary 80% / backup 20%"). Each request draws a point in
// [0, total weight) and takes the cluster whose cumulative weight range holds it. A request
// with an affinity key draws its point from a hash of the key instead, so a session stays in
// one cluster for as long as the weights stay the same.
//
// Threading: immutable after construction; pick() is const and needs no lock.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace spillway::split {

class cluster_split {
 public:
  cluster_split() = default;
  /// `clusters[i]` (a cluster index) gets `weights[i]`; zero weights never get traffic.
  cluster_split(std::vector<int> clusters, const std::vector<uint32_t>& weights);

  /// More than one cluster with traffic: picking matters.
  bool splits() const noexcept { return ranges_.size() > 1; }
  size_t size() const noexcept { return ranges_.size(); }

  /// The cluster for a request: `key` (an affinity key hash) when present, else `random` (a
  /// uniform 64-bit value). -1 when the split is empty.
  int pick(std::optional<uint64_t> key, uint64_t random) const noexcept;

 private:
  struct range {
    uint64_t end;  // cumulative weight, exclusive
    int cluster;
  };
  std::vector<range> ranges_;
  uint64_t total_ = 0;
};

}  // namespace spillway::split
