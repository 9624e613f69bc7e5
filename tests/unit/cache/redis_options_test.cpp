#include <gtest/gtest.h>

#include "cache/redis_client.hpp"

namespace spillway::cache {
namespace {

using namespace std::chrono_literals;

std::optional<redis_options> parse(std::string address, std::string* err = nullptr) {
  config::redis_config c;
  c.address = std::move(address);
  return redis_options::from_config(c, err);
}

TEST(redis_options, addresses) {
  auto a = parse("10.0.0.5:6380");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 6380);
  EXPECT_FALSE(a->unix_socket);

  auto v6 = parse("[::1]:7000");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);

  auto bare = parse("redis.local");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->host, "redis.local");
  EXPECT_EQ(bare->port, 6379);

  auto unix_path = parse("unix:/run/redis.sock");
  ASSERT_TRUE(unix_path);
  EXPECT_TRUE(unix_path->unix_socket);
  EXPECT_EQ(unix_path->host, "/run/redis.sock");
}

TEST(redis_options, bad_addresses_say_why) {
  for (const char* bad :
       {"host:", "host:0", "host:70000", "host:x1", ":6379", "[::1", "[::1]x", "unix:"}) {
    std::string err;
    EXPECT_FALSE(parse(bad, &err)) << bad;
    EXPECT_NE(err.find(bad), std::string::npos) << err;
  }
}

TEST(redis_options, settings_carry_over) {
  config::redis_config c;
  c.password = "pw";
  c.db = 2;
  c.timeout = 75ms;
  c.key_prefix = "sw:";
  auto o = redis_options::from_config(c, nullptr);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->password, "pw");
  EXPECT_EQ(o->db, 2u);
  EXPECT_EQ(o->timeout, 75ms);
  EXPECT_EQ(o->key_prefix, "sw:");
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 6379);
}

}  // namespace
}  // namespace spillway::cache
