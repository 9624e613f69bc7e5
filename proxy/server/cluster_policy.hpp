// Process-wide policy state of one cluster that the data path shares across workers (SPEC §2.1
// `affinity`, `load_report`): the engine load reports the scraper writes and least_load reads,
// the affinity cookie signer, and the affinity decision counters
// (spillway_affinity_decisions_total{cluster,decision}).
//
// Threading: built with the runtime, then immutable apart from atomics (the report store is
// written by the control thread's scraper, the counters by every worker).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "proxy/affinity/cookie.hpp"
#include "proxy/affinity/decision.hpp"
#include "proxy/health/load_report.hpp"
#include "proxy/upstream/cluster.hpp"

namespace spillway::server {

struct cluster_policy {
  /// `previous`: the same cluster's policy before a reload. Its cookie signer is kept when the
  /// cookie settings did not change (a random per-process secret must survive reloads, or every
  /// pinned client would be re-pinned), and its decision counters continue.
  cluster_policy(const upstream::cluster& c, const cluster_policy* previous);

  std::unique_ptr<health::load_report_store> reports;     // null without load_report
  std::shared_ptr<const affinity::cookie_signer> signer;  // null unless affinity.key is cookie
  config::affinity_cookie_config cookie;                  // what `signer` was built from
  std::array<std::atomic<uint64_t>, affinity::decision_count> decisions{};

  void count(affinity::decision d) noexcept {
    decisions[static_cast<std::size_t>(d)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t count_of(affinity::decision d) const noexcept {
    return decisions[static_cast<std::size_t>(d)].load(std::memory_order_relaxed);
  }
};

}  // namespace spillway::server
