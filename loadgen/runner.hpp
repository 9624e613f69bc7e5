// Runs one load test end to end: resolves the target, builds the request factory and the
// schedule's per-thread shares, opens the connections every driver wants before the clock
// starts, starts all drivers on one shared t0 (std::barrier), prints the live progress line,
// and merges the per-thread collectors. Blocking; call from the main thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loadgen/collector.hpp"
#include "loadgen/options.hpp"

namespace spillway::loadgen {

struct run_result {
  std::unique_ptr<collector> stats;  // merged over threads
  std::string target;                // URL the run hit
  int64_t started_unix_ms = 0;
  double wall_seconds = 0;  // whole run, warm-up included
  uint64_t scheduled = 0;   // open-loop arrivals in the schedule
};

/// Runs `o` against `target`. `schedule` is the open-loop schedule (ignored for closed loop).
/// Returns nullopt with `error` set when the run could not start (bad target, files).
std::optional<run_result> run_load(const options& o, const url& target,
                                   const std::vector<int64_t>& schedule, bool show_progress,
                                   std::string& error);

}  // namespace spillway::loadgen
