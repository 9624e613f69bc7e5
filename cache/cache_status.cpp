#include "cache/cache_status.hpp"

#include "common/ascii.hpp"

namespace spillway::cache {
std::string_view cache_status_value(cache_status s) noexcept {
  switch (s) {
    case cache_status::hit:
      return "spillway; hit";
    case cache_status::stale_hit:
      return "spillway; hit; detail=stale";
    case cache_status::miss_stored:
      return "spillway; fwd=miss; stored";
    case cache_status::miss:
      return "spillway; fwd=miss";
    case cache_status::collapsed:
      return "spillway; fwd=miss; collapsed";
    case cache_status::bypass:
      return "spillway; fwd=bypass";
  }
  return "spillway; fwd=bypass";
}

std::string_view metric_result(cache_status s) noexcept {
  switch (s) {
    case cache_status::hit:
      return "hit";
    case cache_status::stale_hit:
      return "stale";
    case cache_status::miss_stored:
    case cache_status::miss:
    case cache_status::collapsed:
      return "miss";
    case cache_status::bypass:
      return "bypass";
  }
  return "bypass";
}

bool client_bypasses_cache(std::string_view v) noexcept {
  // directive = token [ "=" ( token / quoted-string ) ], separated by commas (RFC 9111 §5.2).
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (ascii::is_ows(v[i]) || v[i] == ',')) ++i;
    size_t start = i;
    while (i < v.size() && v[i] != ',' && v[i] != '=' && !ascii::is_ows(v[i])) ++i;
    std::string_view name = v.substr(start, i - start);
    if (ascii::iequals(name, "no-cache") || ascii::iequals(name, "no-store")) return true;
    while (i < v.size() && ascii::is_ows(v[i])) ++i;
    if (i < v.size() && v[i] == '=') {
      ++i;
      while (i < v.size() && ascii::is_ows(v[i])) ++i;
      if (i < v.size() && v[i] == '"') {
        for (++i; i < v.size() && v[i] != '"'; ++i)
          if (v[i] == '\\') ++i;
        ++i;
      }
    }
    while (i < v.size() && v[i] != ',') ++i;
  }
  return false;
}

void cache_counters::count(cache_status s) noexcept {
  switch (s) {
    case cache_status::hit:
      hit.fetch_add(1, std::memory_order_relaxed);
      break;
    case cache_status::stale_hit:
      stale.fetch_add(1, std::memory_order_relaxed);
      break;
    case cache_status::bypass:
      bypass.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      miss.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

}  // namespace spillway::cache
