// admin::access_log line formats: JSON (one object per line, parseable, every field) and text.
#include "proxy/admin/access_log.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace spillway::admin {
namespace {

access_record sample() {
  access_record r;
  r.request_id = "abc123";
  r.method = "POST";
  r.path = "/v1/completions";
  r.route = "default";
  r.cluster = "engines";
  r.endpoint = "127.0.0.1:9001";
  r.client = "10.0.0.7";
  r.cache = "hit";
  r.affinity = "sticky";
  r.status = 200;
  r.bytes_in = 42;
  r.bytes_out = 1234;
  r.duration_ms = 12.5;
  r.ttfb_ms = 3.25;
  r.attempts = 2;
  r.protocol = "HTTP/2";
  r.tls = true;
  return r;
}

TEST(AccessLog, JsonLineCarriesEveryField) {
  access_log log({"stdout", config::access_log_format::json});
  std::string out;
  auto r = sample();
  r.error = "say \"why\"\n";
  log.format(out, r);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);  // one line, newlines in values escaped
  const auto v = boost::json::parse(out).as_object();
  EXPECT_EQ(v.at("request_id").as_string(), "abc123");
  EXPECT_EQ(v.at("method").as_string(), "POST");
  EXPECT_EQ(v.at("protocol").as_string(), "HTTP/2");
  EXPECT_TRUE(v.at("tls").as_bool());
  EXPECT_EQ(v.at("status").as_int64(), 200);
  EXPECT_EQ(v.at("retries").as_int64(), 1);
  EXPECT_EQ(v.at("cache").as_string(), "hit");
  EXPECT_EQ(v.at("affinity").as_string(), "sticky");
  EXPECT_EQ(v.at("error").as_string(), "say \"why\"\n");
}

TEST(AccessLog, TextLineNamesProtocolCacheAndAffinity) {
  access_log log({"stdout", config::access_log_format::text});
  std::string out;
  log.format(out, sample());
  EXPECT_NE(out.find(" 10.0.0.7 POST /v1/completions HTTP/2 tls 200 route=default "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(" cache=hit affinity=sticky idempotency=- id=abc123\n"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("error="), std::string::npos);

  out.clear();
  auto r = sample();
  r.tls = false;
  r.protocol = "HTTP/1.1";
  r.cache = "";
  r.error = "no_route";
  log.format(out, r);
  EXPECT_NE(out.find(" POST /v1/completions HTTP/1.1 200 "), std::string::npos) << out;
  EXPECT_NE(out.find(" cache=- "), std::string::npos) << out;
  EXPECT_NE(out.find(" id=abc123 error=no_route\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace spillway::admin
