// affinity_picker: decisions (none, hit, new_pin, repin, spill, failed), cookie issuing, and the
// on_unavailable policies, for cookie and key affinity.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "proxy/affinity/affinity_picker.hpp"
#include "proxy/balancer/balancer_options.hpp"
#include "tests/unit/affinity/fixture.hpp"

namespace spillway::affinity::test {
namespace {

using namespace std::chrono_literals;
using config::affinity_key_kind;
using config::balancer_kind;
using config::on_unavailable_action;

constexpr int64_t now = 1'760'000'000;

struct rig {
  rig(affinity_key_kind kind, on_unavailable_action action = on_unavailable_action::rebalance,
      balancer_kind lb = balancer_kind::ring_hash, std::string arg = "X-Session-ID")
      : c(std::vector<uint32_t>(6, 1)) {
    cfg.key = kind;
    cfg.key_arg = std::move(arg);
    cfg.on_unavailable = action;
    cfg.balance_factor = 1.25;
    cfg.cookie.secret = "a-secret-of-enough-bytes";
    cfg.cookie.ttl = 1h;
    signer = std::make_unique<cookie_signer>(cfg.cookie, "engines");
    fallback = balancer::make_balancer(balancer_kind::least_conn, c.set, 1);
    picker = std::make_unique<affinity_picker>(cfg, lb, c.set, *fallback, signer.get());
  }

  http::request_head request(std::string_view cookie = {}, std::string_view session = {}) {
    http::request_head h;
    h.method = "POST";
    h.target = "/v1/chat/completions";
    if (!cookie.empty()) h.headers.add("Cookie", "spillway_affinity=" + std::string(cookie));
    if (!session.empty()) h.headers.add("X-Session-ID", session);
    return h;
  }
  affinity_pick pick(const http::request_head& h, std::span<const int> excluded = {},
                     int64_t at = now) {
    return picker->pick(picker->resolve(h, {}, at), excluded);
  }
  /// The cookie value the picker would set for endpoint `i`.
  std::string cookie_of(int i, int64_t at = now) {
    const std::string header = picker->cookie_for(i, at);
    const auto eq = header.find('='), semi = header.find(';');
    return header.substr(eq + 1, semi - eq - 1);
  }

  endpoints c;
  config::affinity_config cfg;
  std::unique_ptr<cookie_signer> signer;
  std::unique_ptr<balancer::balancer> fallback;
  std::unique_ptr<affinity_picker> picker;
};

TEST(affinity_cookie, no_cookie_pins_afresh_and_sets_it) {
  rig r(affinity_key_kind::cookie);
  r.c[0].active = 3;
  const affinity_pick p = r.pick(r.request());
  EXPECT_EQ(p.what, decision::new_pin);
  EXPECT_TRUE(p.set_cookie);
  EXPECT_NE(p.index, 0);  // the cluster's balancer chose (least_conn here)
  const std::string header = r.picker->cookie_for(p.index, now);
  EXPECT_EQ(header.rfind("spillway_affinity=", 0), 0u);
  EXPECT_NE(header.find("Max-Age=3600"), std::string::npos);
}

TEST(affinity_cookie, valid_cookie_hits_without_reissuing) {
  rig r(affinity_key_kind::cookie);
  for (int i = 0; i < 6; ++i) {
    const affinity_pick p = r.pick(r.request(r.cookie_of(i)));
    EXPECT_EQ(p.index, i);
    EXPECT_EQ(p.what, decision::hit);
    EXPECT_FALSE(p.set_cookie);
  }
  // Past half its TTL the cookie is re-issued (sliding expiry).
  const affinity_pick late = r.pick(r.request(r.cookie_of(2)), {}, now + 1900);
  EXPECT_EQ(late.what, decision::hit);
  EXPECT_TRUE(late.set_cookie);
}

TEST(affinity_cookie, forged_tampered_expired_or_stale_cookies_are_replaced) {
  rig r(affinity_key_kind::cookie);
  std::string tampered = r.cookie_of(4);
  tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
  cookie_signer stranger(config::affinity_cookie_config{.secret = "another-secret-value"},
                         "engines");
  cookie_signer same_key(r.cfg.cookie, "engines");
  for (const std::string& bad :
       {std::string("garbage"), tampered, stranger.encode(r.c[4].address, now),
        r.cookie_of(4, now - 3600),                // expired
        same_key.encode("10.9.9.9:9000", now)}) {  // genuine, endpoint no longer there
    const affinity_pick p = r.pick(r.request(bad));
    EXPECT_EQ(p.what, decision::new_pin) << bad;
    EXPECT_TRUE(p.set_cookie) << bad;
  }
}

TEST(affinity_cookie, unavailable_pin_rebalances_and_reissues) {
  rig r(affinity_key_kind::cookie);
  const std::string cookie = r.cookie_of(1);
  r.c[1].unavailable = upstream::unhealthy;
  const affinity_pick p = r.pick(r.request(cookie));
  EXPECT_EQ(p.what, decision::repin);
  EXPECT_TRUE(p.set_cookie);
  ASSERT_GE(p.index, 0);
  EXPECT_NE(p.index, 1);
  // Deterministic: every request with that cookie (and every replica) moves to the same one.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(r.pick(r.request(cookie)).index, p.index);
  // A retry after the pinned endpoint failed this request is the same case.
  r.c[1].unavailable = 0;
  const int tried[] = {1};
  const affinity_pick retry = r.pick(r.request(cookie), tried);
  EXPECT_EQ(retry.what, decision::repin);
  EXPECT_NE(retry.index, 1);
}

TEST(affinity_cookie, unavailable_pin_fails_with_fail_policy) {
  rig r(affinity_key_kind::cookie, on_unavailable_action::fail);
  const std::string cookie = r.cookie_of(1);
  r.c[1].unavailable = upstream::ejected;
  const affinity_pick p = r.pick(r.request(cookie));
  EXPECT_EQ(p.what, decision::failed);
  EXPECT_EQ(p.index, -1);
  EXPECT_FALSE(p.set_cookie);
  r.c[1].unavailable = 0;
  EXPECT_EQ(r.pick(r.request(cookie)).what, decision::hit);
}

TEST(affinity_cookie, busy_pin_spills_this_request_only) {
  rig r(affinity_key_kind::cookie);
  const std::string cookie = r.cookie_of(2);
  r.c[2].active = 5;  // 5 of 5 in flight: bound ceil(1.25 * 6 / 6) = 2
  const affinity_pick p = r.pick(r.request(cookie));
  EXPECT_EQ(p.what, decision::spill);
  EXPECT_FALSE(p.set_cookie);
  EXPECT_NE(p.index, 2);
  r.c[2].active = 0;
  EXPECT_EQ(r.pick(r.request(cookie)).what, decision::hit);
}

// The data path excludes an endpoint whose last slot it lost to another worker: busy, not broken.
TEST(affinity_cookie, lost_race_for_the_last_slot_is_a_spill) {
  rig r(affinity_key_kind::cookie, on_unavailable_action::fail);
  endpoints c(std::vector<uint32_t>(4, 1), 2);  // max_concurrent 2
  auto fallback = balancer::make_balancer(balancer_kind::least_conn, c.set, 1);
  affinity_picker picker(r.cfg, balancer_kind::ring_hash, c.set, *fallback, r.signer.get());
  const auto req = picker.resolve(r.request(r.signer->encode(c[1].address, now)), {}, now);
  ASSERT_EQ(req.pinned, 1);
  c[1].active = 2;  // full
  const int skipped[] = {1};
  const affinity_pick p = picker.pick(req, skipped);
  EXPECT_EQ(p.what, decision::spill);
  EXPECT_NE(p.index, 1);
  EXPECT_GE(p.index, 0);
  c[1].active = 1;  // excluded with room left: it failed this request
  EXPECT_EQ(picker.pick(req, skipped).what, decision::failed);
}

TEST(affinity_key, hits_spills_and_none) {
  for (balancer_kind kind : {balancer_kind::ring_hash, balancer_kind::maglev}) {
    rig r(affinity_key_kind::header, on_unavailable_action::rebalance, kind);
    const affinity_pick first = r.pick(r.request({}, "session-7"));
    EXPECT_EQ(first.what, decision::hit);
    EXPECT_FALSE(first.set_cookie);
    ASSERT_GE(first.index, 0);
    EXPECT_EQ(first.index,
              r.picker->ring().home(*r.picker->resolve(r.request({}, "session-7"), {}, now).key));
    // Hold requests of this one session: after the bound it spills, spread over others.
    std::set<int> spilled_to;
    for (int i = 0; i < 30; ++i) {
      const affinity_pick p = r.pick(r.request({}, "session-7"));
      ASSERT_GE(p.index, 0);
      r.c[p.index].try_acquire();
      if (p.what == decision::spill)
        spilled_to.insert(p.index);
      else
        EXPECT_EQ(p.index, first.index);
    }
    EXPECT_GE(spilled_to.size(), 3u);
    EXPECT_FALSE(spilled_to.count(first.index));
    // No key: the cluster's balancer decides.
    const affinity_pick none = r.pick(r.request());
    EXPECT_EQ(none.what, decision::none);
    EXPECT_GE(none.index, 0);
  }
}

TEST(affinity_key, unavailable_home_repins_or_fails) {
  rig r(affinity_key_kind::header);
  const int home = r.pick(r.request({}, "s")).index;
  r.c[home].unavailable = upstream::breaker_open;
  const affinity_pick p = r.pick(r.request({}, "s"));
  EXPECT_EQ(p.what, decision::repin);
  EXPECT_NE(p.index, home);
  EXPECT_FALSE(p.set_cookie);

  rig f(affinity_key_kind::header, on_unavailable_action::fail);
  const int h = f.pick(f.request({}, "s")).index;
  f.c[h].unavailable = upstream::draining;
  EXPECT_EQ(f.pick(f.request({}, "s")).what, decision::failed);
  // Sessions homed elsewhere are untouched.
  for (int k = 0; k < 50; ++k) {
    const std::string other = "other-" + std::to_string(k);
    const affinity_pick p = f.pick(f.request({}, other));
    if (p.what == decision::failed) continue;
    EXPECT_EQ(p.what, decision::hit);
    EXPECT_NE(p.index, h);
  }
}

TEST(affinity_key, bad_jwt_is_served_without_affinity) {
  rig r(affinity_key_kind::jwt, on_unavailable_action::rebalance, balancer_kind::ring_hash, "sub");
  http::request_head h = r.request();
  h.headers.add("Authorization", "Bearer not-a.jwt@all.x", http::field_id::authorization);
  const affinity_pick p = r.pick(h);
  EXPECT_EQ(p.what, decision::none);
  EXPECT_GE(p.index, 0);
}

TEST(on_pinned_unavailable, policies) {
  endpoints c(std::vector<uint32_t>(4, 1));
  auto ring = balancer::make_hashing_balancer(balancer_kind::ring_hash, c.set, 1.25);
  const affinity_pick fail = on_pinned_unavailable(on_unavailable_action::fail, *ring, 7, 0, {});
  EXPECT_EQ(fail.what, decision::failed);
  EXPECT_EQ(fail.index, -1);
  const affinity_pick moved =
      on_pinned_unavailable(on_unavailable_action::rebalance, *ring, 7, 0, {});
  EXPECT_EQ(moved.what, decision::repin);
  EXPECT_GT(moved.index, 0);
  for (int i = 1; i < 4; ++i) c[i].unavailable = upstream::unhealthy;
  EXPECT_EQ(on_pinned_unavailable(on_unavailable_action::rebalance, *ring, 7, 0, {}).index, -1);
}

TEST(decision, names) {
  EXPECT_EQ(to_string(decision::none), "none");
  EXPECT_EQ(to_string(decision::new_pin), "new_pin");
  EXPECT_EQ(to_string(decision::failed), "failed");
}

}  // namespace
}  // namespace spillway::affinity::test
