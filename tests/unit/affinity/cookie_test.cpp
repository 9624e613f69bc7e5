// Signed affinity cookie: round trip, any altered byte rejected, expiry, other keys and
// contexts rejected, Cookie header parsing; strict base64url.
#include <gtest/gtest.h>

#include <string>

#include "common/random.hpp"
#include "proxy/affinity/base64url.hpp"
#include "proxy/affinity/cookie.hpp"

namespace spillway::affinity {
namespace {

using namespace std::chrono_literals;

constexpr int64_t now = 1'760'000'000;

config::affinity_cookie_config cookie_cfg(std::string secret = "0123456789abcdef-secret") {
  config::affinity_cookie_config c;
  c.secret = std::move(secret);
  c.ttl = 1h;
  return c;
}

TEST(base64url, round_trips_and_is_strict) {
  xoshiro256 rng(9);
  for (int n = 0; n < 70; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng.next());
    const std::string text = base64url_encode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
    const auto back = base64url_decode(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("-_9"));    // non-zero unused bits: a second spelling of "-_8"
  EXPECT_FALSE(base64url_decode("AB+C"));   // standard alphabet
  EXPECT_FALSE(base64url_decode("QQ=="));   // padding
  EXPECT_FALSE(base64url_decode("QUJDR"));  // 4k + 1 characters
  EXPECT_EQ(base64url_decode_lenient("QQ=="), "A");
  EXPECT_EQ(base64url_decode(""), "");
}

TEST(cookie_signer, round_trip) {
  const cookie_signer s(cookie_cfg(), "engines");
  const std::string v = s.encode("10.0.0.1:9001", now);
  EXPECT_EQ(v.find_first_of(" ;,\"\\"), std::string::npos);  // a valid cookie-octet string
  const auto claim = s.verify(v, now + 10);
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->address, "10.0.0.1:9001");
  EXPECT_EQ(claim->expires, now + 3600);
  // Another signer with the same secret (another replica) accepts it.
  EXPECT_TRUE(cookie_signer(cookie_cfg(), "engines").verify(v, now));
}

TEST(cookie_signer, any_altered_byte_is_rejected) {
  const cookie_signer s(cookie_cfg(), "engines");
  const std::string v = s.encode("engine-a.internal:9000", now);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.|=";
  for (std::size_t i = 0; i < v.size(); ++i) {
    for (char c : alphabet) {
      if (c == v[i]) continue;
      std::string t = v;
      t[i] = c;
      ASSERT_FALSE(s.verify(t, now)) << "byte " << i << " -> " << c;
    }
  }
  for (std::size_t cut = 0; cut < v.size(); ++cut)
    ASSERT_FALSE(s.verify(v.substr(0, cut), now)) << "truncated to " << cut;
  EXPECT_FALSE(s.verify(v + "A", now));
  EXPECT_FALSE(s.verify("A" + v, now));
}

TEST(cookie_signer, forged_payload_with_a_copied_mac_is_rejected) {
  const cookie_signer s(cookie_cfg(), "engines");
  const std::string genuine = s.encode("10.0.0.1:9001", now);
  const std::string mac = genuine.substr(genuine.rfind('.'));
  EXPECT_FALSE(s.verify(base64url_encode("10.0.0.1:9002|" + std::to_string(now + 60)) + mac, now));
}

TEST(cookie_signer, expiry) {
  const cookie_signer s(cookie_cfg(), "engines");
  const std::string v = s.encode("10.0.0.1:9001", now);
  EXPECT_TRUE(s.verify(v, now + 3599));
  EXPECT_FALSE(s.verify(v, now + 3600));
  EXPECT_FALSE(s.verify(v, now + 100000));
  // An expiry further ahead than the TTL (plus clock skew) is not one this proxy would set.
  EXPECT_FALSE(s.verify(s.encode_until("10.0.0.1:9001", now + 3600 + 61), now));
  EXPECT_TRUE(s.verify(s.encode_until("10.0.0.1:9001", now + 3600 + 59), now));
  EXPECT_FALSE(s.verify(s.encode_until("10.0.0.1:9001", -5), now));
}

TEST(cookie_signer, other_secret_or_cluster_is_rejected) {
  const cookie_signer s(cookie_cfg(), "engines");
  const std::string v = s.encode("10.0.0.1:9001", now);
  EXPECT_FALSE(cookie_signer(cookie_cfg("0123456789abcdef-secreT"), "engines").verify(v, now));
  EXPECT_FALSE(cookie_signer(cookie_cfg(), "engines-small").verify(v, now));
}

TEST(cookie_signer, empty_secret_is_random_per_process) {
  const cookie_signer a(cookie_cfg(""), "engines");
  const cookie_signer b(cookie_cfg(""), "engines");
  const std::string v = a.encode("10.0.0.1:9001", now);
  EXPECT_TRUE(b.verify(v, now));  // same process: same key
  // Not a key anyone could guess: the empty string and the cluster name are not it.
  EXPECT_FALSE(cookie_signer(cookie_cfg("engines"), "engines").verify(v, now));
  EXPECT_NE(a.encode("x:1", now), cookie_signer(cookie_cfg("x"), "engines").encode("x:1", now));
}

TEST(cookie_signer, set_cookie_attributes) {
  auto cfg = cookie_cfg();
  cfg.name = "sa";
  cfg.secure = true;
  cfg.http_only = true;
  EXPECT_EQ(cookie_signer(cfg, "c").set_cookie("VALUE"),
            "sa=VALUE; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax");
  cfg.secure = false;
  cfg.http_only = false;
  EXPECT_EQ(cookie_signer(cfg, "c").set_cookie("V"), "sa=V; Path=/; Max-Age=3600; SameSite=Lax");
}

TEST(cookie_header, finds_the_first_valid_cookie_among_many) {
  const cookie_signer s(cookie_cfg(), "engines");
  const std::string good = s.encode("10.0.0.1:9003", now);
  http::header_list h;
  h.add("Cookie", "theme=dark; spillway_affinity=forged.value");
  h.add("X-Other", "spillway_affinity=" + good);
  h.add("cookie", " a=1 ;spillway_affinity=\"" + good + "\"; b=2");
  const auto claim = find_valid_cookie(h, s, now);
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->address, "10.0.0.1:9003");

  std::vector<std::string> seen;
  for_each_cookie(h, "spillway_affinity", [&](std::string_view v) {
    seen.emplace_back(v);
    return false;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"forged.value", good}));

  http::header_list none;
  none.add("Cookie", "spillway_affinityx=" + good + "; xspillway_affinity=" + good);
  EXPECT_FALSE(find_valid_cookie(none, s, now));
}

}  // namespace
}  // namespace spillway::affinity
