// Scalar syntax of the config language: durations, sizes, percentages, rates, ${VAR} expansion,
// host:port parsing and "did you mean" suggestions.
#include <gtest/gtest.h>

#include <map>

#include "config/address.hpp"
#include "config/env_expand.hpp"
#include "config/suggest.hpp"
#include "config/values.hpp"

namespace spillway::config {
namespace {

using std::chrono::milliseconds;

TEST(Duration, AcceptsEachUnitAndCombinations) {
  EXPECT_EQ(parse_duration("250ms").value, milliseconds(250));
  EXPECT_EQ(parse_duration("5s").value, milliseconds(5'000));
  EXPECT_EQ(parse_duration("2m").value, milliseconds(120'000));
  EXPECT_EQ(parse_duration("1h").value, milliseconds(3'600'000));
  EXPECT_EQ(parse_duration("1m30s").value, milliseconds(90'000));
  EXPECT_EQ(parse_duration("1h2m3s4ms").value, milliseconds(3'723'004));
  EXPECT_EQ(parse_duration("1.5s").value, milliseconds(1'500));
  EXPECT_EQ(parse_duration("0").value, milliseconds(0));
  EXPECT_EQ(parse_duration("0s").value, milliseconds(0));
}

TEST(Duration, RejectsBareNumbersWithAHint) {
  auto d = parse_duration("30");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error.find("missing unit"), std::string::npos) << d.error;
  EXPECT_NE(d.error.find("30s"), std::string::npos) << d.error;
}

TEST(Duration, RejectsMalformedText) {
  for (const char* bad : {"", "s", "5 s", "5sec", "-5s", "5us", "1s1m", "5s5s", "1.5.2s", "0.5ms",
                          "1e3s", "99999999h", "5s "})
    EXPECT_FALSE(parse_duration(bad)) << bad;
  EXPECT_NE(parse_duration("5d").error.find("unknown unit 'd'"), std::string::npos);
  EXPECT_NE(parse_duration("-1s").error.find("negative"), std::string::npos);
}

TEST(Duration, FormatsBackToTheSameValue) {
  for (int64_t ms : {0, 1, 999, 1'000, 90'000, 3'723'004, 86'400'000}) {
    auto text = format_duration(milliseconds(ms));
    EXPECT_EQ(parse_duration(text).value, milliseconds(ms)) << text;
  }
  EXPECT_EQ(format_duration(milliseconds(90'000)), "1m30s");
}

TEST(Size, AcceptsBinaryUnitsAndBytes) {
  EXPECT_EQ(parse_size("512").value, 512u);
  EXPECT_EQ(parse_size("512B").value, 512u);
  EXPECT_EQ(parse_size("64KiB").value, 64u * 1024);
  EXPECT_EQ(parse_size("32MiB").value, 32u * 1024 * 1024);
  EXPECT_EQ(parse_size("2GiB").value, 2ull * 1024 * 1024 * 1024);
  EXPECT_EQ(parse_size("1.5KiB").value, 1536u);
}

TEST(Size, RejectsDecimalUnitsAsAmbiguous) {
  for (const char* bad : {"1MB", "1KB", "1GB", "1kb", "1k", "1M"}) {
    auto s = parse_size(bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error.find("KiB"), std::string::npos) << s.error;
  }
}

TEST(Size, RejectsMalformedText) {
  for (const char* bad : {"", "KiB", "-1KiB", "1 KiB", "0.3B", "2000GiB", "1.KiB"})
    EXPECT_FALSE(parse_size(bad)) << bad;
}

TEST(Percent, AcceptsSignAndPlainNumber) {
  EXPECT_DOUBLE_EQ(*parse_percent("50%").value, 0.5);
  EXPECT_DOUBLE_EQ(*parse_percent("50").value, 0.5);
  EXPECT_DOUBLE_EQ(*parse_percent("12.5%").value, 0.125);
  EXPECT_DOUBLE_EQ(*parse_percent("0").value, 0.0);
  EXPECT_DOUBLE_EQ(*parse_percent("100%").value, 1.0);
  for (const char* bad : {"101%", "-5%", "%", "half", "50%%", ""})
    EXPECT_FALSE(parse_percent(bad)) << bad;
}

TEST(Rate, ConvertsToPerSecond) {
  EXPECT_DOUBLE_EQ(*parse_rate("50/s").value, 50.0);
  EXPECT_DOUBLE_EQ(*parse_rate("600/m").value, 10.0);
  EXPECT_DOUBLE_EQ(*parse_rate("3600/h").value, 1.0);
  EXPECT_DOUBLE_EQ(*parse_rate("0.5/s").value, 0.5);
  for (const char* bad : {"50", "50/d", "/s", "0/s", "-1/s", "50/"})
    EXPECT_FALSE(parse_rate(bad)) << bad;
}

TEST(Scalars, UintAndBool) {
  EXPECT_EQ(parse_uint("42").value, 42u);
  EXPECT_FALSE(parse_uint("-1"));
  EXPECT_FALSE(parse_uint("+1"));
  EXPECT_FALSE(parse_uint("4x"));
  EXPECT_FALSE(parse_uint("99999999999999999999999"));
  EXPECT_EQ(parse_bool("TRUE").value, true);
  EXPECT_EQ(parse_bool("false").value, false);
  EXPECT_FALSE(parse_bool("yes"));
}

env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(EnvExpand, SubstitutesVariablesAndDefaults) {
  auto env = fake_env({{"HOST", "engine-a"}, {"EMPTY", ""}});
  EXPECT_EQ(expand_env("${HOST}:9000", env).value, "engine-a:9000");
  EXPECT_EQ(expand_env("${MISSING:-fallback}", env).value, "fallback");
  EXPECT_EQ(expand_env("${EMPTY:-fallback}", env).value, "fallback");
  EXPECT_EQ(expand_env("${HOST:-x}", env).value, "engine-a");
  EXPECT_EQ(expand_env("${MISSING:-}", env).value, "");
  EXPECT_EQ(expand_env("a${HOST}b${HOST}c", env).value, "aengine-abengine-ac");
  EXPECT_EQ(expand_env("cost $5 and $${HOST}", env).value, "cost $5 and ${HOST}");
}

TEST(EnvExpand, NamesTheUnsetVariable) {
  auto r = expand_env("${NOT_THERE}", fake_env({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("NOT_THERE"), std::string::npos) << r.error;
}

TEST(EnvExpand, RejectsMalformedReferences) {
  auto env = fake_env({{"A", "1"}});
  for (const char* bad : {"${A", "${}", "${1A}", "${A-x}", "${A:-${A}}", "${A B}"})
    EXPECT_FALSE(expand_env(bad, env)) << bad;
}

TEST(Address, ParsesHostPortForms) {
  auto a = parse_host_port("127.0.0.1:9001");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9001);
  auto b = parse_host_port("[::1]:8080");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 8080);
  auto c = parse_host_port("engine-c:9000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "engine-c");
  auto d = parse_host_port(":8080");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "");
  EXPECT_TRUE(parse_host_port("a.b_c.example.com.:1"));
  EXPECT_TRUE(parse_host_port("[fe80::1%eth0]:65535"));
}

TEST(Address, RejectsBadForms) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1", "::1:80",
                          "[::1]80", "[::1]:", "[nope]:80", "1.2.3.999:80", "bad host:80", "-a:80",
                          "a..b:80", "host:8o", "host:+80", "", ":"})
    EXPECT_FALSE(parse_host_port(bad)) << bad;
}

TEST(Suggest, FindsTyposWithinThreshold) {
  std::vector<std::string_view> keys{"balancer", "endpoints", "max_concurrent", "queue",
                                     "timeouts"};
  EXPECT_EQ(closest_match("balancr", keys), "balancer");
  EXPECT_EQ(closest_match("endpionts", keys), "endpoints");  // transposition
  EXPECT_EQ(closest_match("max_concurent", keys), "max_concurrent");
  EXPECT_EQ(closest_match("timeout", keys), "timeouts");
  EXPECT_EQ(closest_match("colour", keys), "");
  EXPECT_EQ(did_you_mean("qeue", keys), "; did you mean 'queue'?");
  EXPECT_EQ(edit_distance("abc", "acb"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
}

}  // namespace
}  // namespace spillway::config
