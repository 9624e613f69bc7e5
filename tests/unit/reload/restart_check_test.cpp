// Settings a reload reports as needing a restart.
#include "proxy/server/restart_check.hpp"

#include <gtest/gtest.h>

namespace spillway::server {
namespace {

config::proxy_config base() {
  config::proxy_config c;
  c.workers = 2;
  config::listener_config l;
  l.name = "public";
  l.address = "127.0.0.1:8080";
  c.listeners.push_back(l);
  c.admin = config::admin_config{};
  return c;
}

bool has(const std::vector<std::string>& v, std::string_view prefix) {
  for (const auto& s : v)
    if (s.starts_with(prefix) && s.find("needs a restart") != std::string::npos) return true;
  return false;
}

TEST(NeedsRestart, NothingForLiveSettings) {
  auto a = base();
  auto b = base();
  b.drain_timeout = std::chrono::seconds(5);
  b.admin->token = "new";
  b.clusters.push_back(config::cluster_config{});
  EXPECT_TRUE(needs_restart(a, b).empty());
}

TEST(NeedsRestart, NamesEachChangedKey) {
  auto a = base();
  auto b = base();
  b.workers = 0;
  b.listeners[0].address = "127.0.0.1:8081";
  b.listeners[0].timeouts.idle = std::chrono::seconds(5);
  b.admin->address = "127.0.0.1:9999";
  b.access_log = config::access_log_config{};
  auto w = needs_restart(a, b);
  EXPECT_EQ(w.size(), 5u);
  EXPECT_TRUE(has(w, "workers: 2 -> auto"));
  EXPECT_TRUE(has(w, "listeners[0].address: 127.0.0.1:8080 -> 127.0.0.1:8081"));
  EXPECT_TRUE(has(w, "listeners[0].timeouts.idle"));
  EXPECT_TRUE(has(w, "admin.address"));
  EXPECT_TRUE(has(w, "access_log"));
}

TEST(NeedsRestart, AddedAndRemovedListeners) {
  auto a = base();
  auto b = base();
  b.listeners.push_back(b.listeners[0]);
  b.listeners[1].name = "second";
  EXPECT_TRUE(has(needs_restart(a, b), "listeners[1]: new listener second"));
  EXPECT_TRUE(has(needs_restart(b, a), "listeners[1]: removing listener second"));
}

}  // namespace
}  // namespace spillway::server
