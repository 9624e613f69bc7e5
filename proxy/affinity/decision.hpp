// How affinity placed one pick, for the access log and the per-cluster counters.
#pragma once

#include <cstdint>
#include <string_view>

namespace spillway::affinity {

enum class decision : uint8_t {
  none,     // no affinity (off, or the request carries no key): the cluster's balancer chose
  hit,      // the key's or cookie's endpoint took the request
  new_pin,  // cookie: no valid cookie (absent, forged, expired, stale): pinned afresh
  repin,    // the pinned endpoint is unavailable (or failed this request): moved for good
  spill,    // the pinned endpoint is busy (load bound or max_concurrent): elsewhere this once
  failed,   // the pinned endpoint is unavailable and on_unavailable is fail: answer 503
};

constexpr std::string_view to_string(decision d) noexcept {
  switch (d) {
    case decision::none:
      return "none";
    case decision::hit:
      return "hit";
    case decision::new_pin:
      return "new_pin";
    case decision::repin:
      return "repin";
    case decision::spill:
      return "spill";
    case decision::failed:
      return "failed";
  }
  return "none";
}

inline constexpr std::size_t decision_count = 6;

}  // namespace spillway::affinity
