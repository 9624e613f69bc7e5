#include "proxy/balancer/maglev.hpp"

#include <algorithm>
#include <numeric>

#include "proxy/balancer/key_hash.hpp"

namespace spillway::balancer {
namespace {

bool is_prime(uint32_t x) noexcept {
  if (x < 2) return false;
  for (uint32_t d = 2; uint64_t{d} * d <= x; ++d)
    if (x % d == 0) return false;
  return true;
}

// Seeds of the two address hashes that give each endpoint its permutation.
constexpr uint64_t offset_seed = 0x6d61676c65762d6fULL;
constexpr uint64_t skip_seed = 0x6d61676c65762d73ULL;

}  // namespace

uint32_t maglev::table_size(std::size_t endpoints) noexcept {
  uint64_t m = std::max<uint64_t>(min_table_size, uint64_t{100} * endpoints);
  while (!is_prime(static_cast<uint32_t>(m))) ++m;
  return static_cast<uint32_t>(m);
}

maglev::maglev(const endpoint_set& endpoints, double balance_factor, uint32_t balance_floor)
    : endpoints_(endpoints),
      balance_factor_(balance_factor),
      balance_floor_(balance_floor),
      marks_(endpoints.size()),
      fallback_(endpoints) {}

void maglev::build() {
  if (built_) return;
  built_ = true;
  const std::size_t n = endpoints_.size();
  if (n == 0) return;
  const uint32_t m = table_size(n);
  table_.assign(m, -1);

  // Turn order by address, so a replica with the endpoints listed in another order agrees.
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return endpoints_[a]->address < endpoints_[b]->address; });

  struct cursor {
    uint64_t slot;  // current position in the endpoint's permutation
    uint64_t skip;
    uint64_t weight;
    uint64_t credit = 0;
  };
  std::vector<cursor> cur(n);
  uint64_t max_weight = 1;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& a = endpoints_[i]->address;
    cur[i].slot = hash64(a, offset_seed) % m;
    cur[i].skip = hash64(a, skip_seed) % (m - 1) + 1;
    cur[i].weight = std::max<uint32_t>(endpoints_[i]->weight, 1);
    max_weight = std::max(max_weight, cur[i].weight);
  }

  // Eisenbud et al., Algorithm 1, with weighted turns: each round an endpoint earns its weight
  // and claims one slot per max_weight earned.
  uint32_t filled = 0;
  while (filled < m) {
    for (int i : order) {
      cursor& c = cur[i];
      c.credit += c.weight;
      if (c.credit < max_weight) continue;
      c.credit -= max_weight;
      while (table_[c.slot] >= 0) c.slot = (c.slot + c.skip) % m;
      table_[c.slot] = i;
      c.slot = (c.slot + c.skip) % m;
      if (++filled == m) break;
    }
  }
  std::vector<bool> has(n, false);
  for (int32_t owner : table_) has[owner] = true;
  present_ = static_cast<std::size_t>(std::count(has.begin(), has.end(), true));
}

std::size_t maglev::slots_of(int i) const noexcept {
  return static_cast<std::size_t>(std::count(table_.begin(), table_.end(), i));
}

int maglev::home(uint64_t hash) {
  build();
  return table_.empty() ? -1 : table_[hash % table_.size()];
}

hash_pick maglev::pick_hash(uint64_t hash, std::span<const int> excluded, int avoid) {
  build();
  if (table_.empty()) return {};
  const load_bound bound = load_bound::measure(endpoints_, balance_factor_, balance_floor_);
  const std::size_t m = table_.size();
  std::size_t slot = hash % m;
  return bounded_walk(endpoints_, bound, excluded, avoid, marks_, present_, m, [&] {
    const int owner = table_[slot];
    if (++slot == m) slot = 0;
    return owner;
  });
}

int maglev::pick(const pick_context& ctx) {
  if (!ctx.has_hash) return fallback_.pick(ctx);
  return pick_hash(ctx.hash, ctx.excluded).index;
}

}  // namespace spillway::balancer
