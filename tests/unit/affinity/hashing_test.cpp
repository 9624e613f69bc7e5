// ring_hash and maglev: key spread by weight, keys moved when an endpoint leaves or changes
// weight (consistent hashing moves about 1/N), agreement between replicas, eligibility.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <string>

#include "common/random.hpp"
#include "proxy/balancer/balancer_options.hpp"
#include "proxy/balancer/key_hash.hpp"
#include "proxy/balancer/maglev.hpp"
#include "proxy/balancer/ring_hash.hpp"
#include "tests/unit/affinity/fixture.hpp"

namespace spillway::affinity::test {
namespace {

using balancer::hash64;
using balancer::hashing_balancer;
using config::balancer_kind;

constexpr int keys = 40000;

std::unique_ptr<hashing_balancer> make(balancer_kind kind, const endpoints& c, double factor = 0) {
  return balancer::make_hashing_balancer(kind, c.set, factor);
}

/// Address of the home endpoint of each of `keys` keys (key k = hash64 of its decimal text).
std::vector<std::string> homes(hashing_balancer& b, const endpoints& c) {
  std::vector<std::string> out;
  out.reserve(keys);
  for (int k = 0; k < keys; ++k) {
    const int h = b.home(hash64(std::to_string(k)));
    out.push_back(h < 0 ? "" : c.set[h]->address);
  }
  return out;
}

/// Address each key is picked for (with the bound off), honouring availability.
std::vector<std::string> picks(hashing_balancer& b, const endpoints& c) {
  std::vector<std::string> out;
  out.reserve(keys);
  for (int k = 0; k < keys; ++k) {
    const int p = b.pick_hash(hash64(std::to_string(k)), {}).index;
    out.push_back(p < 0 ? "" : c.set[p]->address);
  }
  return out;
}

double moved_fraction(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  int moved = 0;
  for (std::size_t k = 0; k < a.size(); ++k) moved += a[k] != b[k];
  return static_cast<double>(moved) / static_cast<double>(a.size());
}

class hashing : public ::testing::TestWithParam<balancer_kind> {};

TEST(key_hash, deterministic_seeded_and_avalanching) {
  EXPECT_EQ(hash64("10.0.0.1:9001"), hash64(std::string("10.0.0.1:") + "9001"));
  EXPECT_NE(hash64("10.0.0.1:9001"), hash64("10.0.0.1:9002"));
  EXPECT_NE(hash64("abc", 1), hash64("abc", 2));
  EXPECT_NE(hash64("a"), hash64(std::string_view("a\0", 2)));
  // Flipping one input bit flips about half of the output bits.
  xoshiro256 rng(5);
  double total = 0;
  int trials = 0;
  for (int t = 0; t < 2000; ++t) {
    std::string s(1 + rng.below(40), '\0');
    for (char& ch : s) ch = static_cast<char>(rng.next());
    const uint64_t before = hash64(s);
    const std::size_t bit = rng.below(s.size() * 8);
    s[bit / 8] = static_cast<char>(s[bit / 8] ^ (1 << (bit % 8)));
    total += std::popcount(before ^ hash64(s));
    ++trials;
  }
  EXPECT_NEAR(total / trials, 32.0, 1.0);
}

TEST_P(hashing, keys_follow_weights) {
  endpoints c({5, 3, 2});
  auto b = make(GetParam(), c);
  std::map<std::string, int> count;
  for (const auto& a : homes(*b, c)) ++count[a];
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double share = count[c[i].address] / static_cast<double>(keys);
    EXPECT_NEAR(share, c[i].weight / 10.0, 0.04) << "endpoint " << i;
  }
}

TEST_P(hashing, one_of_n_leaving_moves_about_one_nth) {
  for (std::size_t n : {5u, 10u, 20u}) {
    endpoints all(std::vector<uint32_t>(n, 1));
    endpoints fewer(std::vector<uint32_t>{});
    const std::size_t gone = n / 2;
    for (std::size_t i = 0; i < n; ++i)
      if (i != gone) fewer.add(all[i].address, 1);
    auto before = make(GetParam(), all);
    auto after = make(GetParam(), fewer);
    const auto a = homes(*before, all);
    const auto b = homes(*after, fewer);
    const double moved = moved_fraction(a, b);
    EXPECT_NEAR(moved, 1.0 / n, 0.35 / n) << "n=" << n;
    // Keys of the endpoint that stayed mostly stay: every one on the ring, nearly all on Maglev.
    int strays = 0;
    for (int k = 0; k < keys; ++k) strays += a[k] != all[gone].address && a[k] != b[k];
    const double stray_share = static_cast<double>(strays) / keys;
    if (GetParam() == balancer_kind::ring_hash)
      EXPECT_EQ(strays, 0) << "n=" << n;
    else
      EXPECT_LT(stray_share, 0.2 / n) << "n=" << n;
  }
}

TEST_P(hashing, unavailable_endpoint_moves_only_its_keys_and_spreads_them) {
  endpoints c(std::vector<uint32_t>(8, 1));
  auto b = make(GetParam(), c);
  const auto before = picks(*b, c);
  c[3].unavailable = upstream::unhealthy;
  const auto after = picks(*b, c);
  std::map<std::string, int> heirs;
  for (int k = 0; k < keys; ++k) {
    if (before[k] != c[3].address) {
      ASSERT_EQ(before[k], after[k]) << "key " << k;
    } else {
      ASSERT_NE(after[k], c[3].address);
      ++heirs[after[k]];
    }
  }
  EXPECT_NEAR(moved_fraction(before, after), 1.0 / 8, 0.04);
  // The orphaned keys go to several endpoints, not all to one neighbour.
  EXPECT_GE(heirs.size(), 5u);
  for (const auto& [address, n] : heirs) EXPECT_LT(n, keys / 8 / 2) << address;
  c[3].unavailable = 0;
  EXPECT_EQ(picks(*b, c), before);
}

TEST_P(hashing, weight_change_moves_only_what_it_must) {
  endpoints light(std::vector<uint32_t>(5, 1));
  endpoints heavy(std::vector<uint32_t>{2, 1, 1, 1, 1});
  auto a = make(GetParam(), light);
  auto b = make(GetParam(), heavy);
  const auto before = homes(*a, light);
  const auto after = homes(*b, heavy);
  // Endpoint 0's share grows from 1/5 to 2/6: at least that much moves, to endpoint 0.
  const double must = 2.0 / 6 - 1.0 / 5;
  const double moved = moved_fraction(before, after);
  EXPECT_GT(moved, must - 0.03);
  int to_other = 0;
  for (int k = 0; k < keys; ++k) to_other += before[k] != after[k] && after[k] != light[0].address;
  if (GetParam() == balancer_kind::ring_hash) {
    EXPECT_NEAR(moved, must, 0.03);
    EXPECT_EQ(to_other, 0);
  } else {
    EXPECT_LT(moved, must * 1.6);
    EXPECT_LT(static_cast<double>(to_other) / keys, 0.05);
  }
}

TEST_P(hashing, replicas_agree_whatever_the_endpoint_order) {
  endpoints a({3, 1, 2, 1, 1});
  endpoints b(std::vector<uint32_t>{});
  for (int i : {4, 2, 0, 3, 1}) b.add(a[i].address, a[i].weight);
  auto x = make(GetParam(), a);
  auto y = make(GetParam(), b);
  EXPECT_EQ(homes(*x, a), homes(*y, b));
}

TEST_P(hashing, without_hash_balances_as_least_conn) {
  endpoints c({5, 1, 1});
  c[0].active = 4;
  auto b = balancer::make_balancer(GetParam(), c.set, 1);
  std::string seq;
  for (int i = 0; i < 7; ++i) seq += static_cast<char>('a' + b->pick({}));
  EXPECT_EQ(seq, "aabacaa");
}

TEST_P(hashing, hashed_picks_skip_excluded_unavailable_and_full) {
  endpoints c({1, 1, 1, 1}, 2);
  auto b = balancer::make_balancer(GetParam(), c.set, 1);
  xoshiro256 rng(3);
  for (int round = 0; round < 3000; ++round) {
    std::vector<int> excluded;
    for (std::size_t i = 0; i < c.size(); ++i) {
      c[i].active = static_cast<int32_t>(rng.below(3));
      c[i].unavailable = rng.below(4) == 0 ? uint32_t{upstream::ejected} : 0u;
      if (rng.below(4) == 0) excluded.push_back(static_cast<int>(i));
    }
    const balancer::pick_context ctx{.excluded = excluded, .hash = rng.next(), .has_hash = true};
    bool any = false;
    for (std::size_t i = 0; i < c.size(); ++i)
      any |= balancer::eligible(c[i], static_cast<int>(i), ctx);
    const int p = b->pick(ctx);
    if (!any) {
      ASSERT_EQ(p, -1) << "round " << round;
    } else {
      ASSERT_GE(p, 0) << "round " << round;
      ASSERT_TRUE(balancer::eligible(c[p], p, ctx)) << "round " << round;
    }
  }
}

TEST_P(hashing, same_key_same_endpoint_while_within_bound) {
  endpoints c({1, 1, 1, 1, 1, 1});
  auto b = balancer::make_balancer(GetParam(), c.set, 1, {.balance_factor = 1.25});
  const balancer::pick_context ctx{.excluded = {}, .hash = hash64("session-42"), .has_hash = true};
  const int first = b->pick(ctx);
  ASSERT_GE(first, 0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(b->pick(ctx), first);
}

INSTANTIATE_TEST_SUITE_P(policies, hashing,
                         ::testing::Values(balancer_kind::ring_hash, balancer_kind::maglev),
                         [](const auto& info) {
                           return std::string(info.param == balancer_kind::maglev ? "maglev"
                                                                                  : "ring_hash");
                         });

TEST(ring_hash, points_follow_configured_weights_and_scale_down_when_huge) {
  endpoints c({1, 3});
  balancer::ring_hash r(c.set, 0);
  r.build();
  EXPECT_EQ(r.points_of(0), balancer::ring_hash::points_per_weight);
  EXPECT_EQ(r.points_of(1), 3 * balancer::ring_hash::points_per_weight);
  endpoints big({1, 1000, 1000});
  balancer::ring_hash s(big.set, 0);
  s.build();
  EXPECT_LE(s.points_of(0) + s.points_of(1) + s.points_of(2), balancer::ring_hash::max_points + 3);
  EXPECT_GE(s.points_of(0), 1u);
  EXPECT_NEAR(static_cast<double>(s.points_of(1)) / s.points_of(2), 1.0, 0.01);
}

TEST(maglev, table_is_prime_sized_and_fill_counts_follow_weights) {
  EXPECT_EQ(balancer::maglev::table_size(3), 65537u);
  const uint32_t big = balancer::maglev::table_size(1000);
  EXPECT_GE(big, 100000u);
  for (uint32_t d = 2; d * d <= big; ++d) ASSERT_NE(big % d, 0u) << d;
  endpoints c({5, 3, 2});
  balancer::maglev m(c.set, 0);
  m.build();
  const double total = 65537;
  EXPECT_NEAR(m.slots_of(0) / total, 0.5, 0.01);
  EXPECT_NEAR(m.slots_of(1) / total, 0.3, 0.01);
  EXPECT_NEAR(m.slots_of(2) / total, 0.2, 0.01);
}

}  // namespace
}  // namespace spillway::affinity::test
