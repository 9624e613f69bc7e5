// A runtime built by a reload shares listeners, staying endpoints and the statistics blocks of
// routes and endpoints that remain with the runtime it replaces.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "proxy/server/runtime.hpp"

namespace spillway::server {
namespace {

std::shared_ptr<const config::proxy_config> load(const std::string& yaml) {
  auto r = config::load_string(yaml, "test.yaml");
  EXPECT_TRUE(r.ok()) << config::format_report(r);
  return r.config;
}

const char* first_yaml = R"(
listeners: [{name: public, address: "127.0.0.1:18080"}]
clusters:
  - name: engines
    endpoints: [{address: "127.0.0.1:9001"}, {address: "127.0.0.1:9002"}]
routes:
  - {name: chat, match: {path_prefix: /v1}, cluster: engines}
  - {name: default, match: {path_prefix: /}, cluster: engines}
)";

const char* second_yaml = R"(
listeners: [{name: public, address: "127.0.0.1:18081"}]
clusters:
  - name: small
    endpoints: [{address: "127.0.0.1:9100"}]
  - name: engines
    endpoints: [{address: "127.0.0.1:9003"}, {address: "127.0.0.1:9002", weight: 4}]
routes:
  - {name: default, match: {path_prefix: /}, cluster: engines}
  - {name: small, match: {path_prefix: /s}, cluster: small}
)";

TEST(RuntimeReload, SharesWhatStaysAndStartsTheRestFresh) {
  runtime before(load(first_yaml), 2);
  before.stats[1].routes[1]->by_status[200].add(7);
  before.stats[1].endpoints[0][1]->by_status[200].add(3);
  before.stats[0].endpoints[0][0]->by_status[200].add(1);

  runtime after(load(second_yaml), 2, before);
  ASSERT_EQ(after.stats.size(), 2u);
  // Listeners cannot change live: the running ones are kept.
  ASSERT_EQ(after.listeners.size(), 1u);
  EXPECT_EQ(after.listeners[0], before.listeners[0]);
  EXPECT_EQ(after.listeners[0]->cfg.address, "127.0.0.1:18080");
  // Route "default" moved from index 1 to 0 and keeps its counters.
  EXPECT_EQ(after.stats[1].routes[0], before.stats[1].routes[1]);
  EXPECT_EQ(after.stats[1].routes[0]->by_status[200].get(), 7u);
  EXPECT_EQ(after.stats[1].routes[1]->by_status[200].get(), 0u);
  // engines is now cluster 1; 127.0.0.1:9002 is its endpoint 1 and keeps object and counters.
  ASSERT_EQ(after.cluster_index("engines"), 1);
  EXPECT_EQ(&after.clusters[1]->at(1), &before.clusters[0]->at(1));
  EXPECT_EQ(after.clusters[1]->at(1).weight.load(), 4u);
  EXPECT_EQ(after.stats[1].endpoints[1][1]->by_status[200].get(), 3u);
  EXPECT_EQ(after.stats[0].endpoints[1][0]->by_status[200].get(), 0u);
  EXPECT_EQ(after.stats[0].endpoints[0][0]->by_status[200].get(), 0u);
  // Route to cluster indexes follow the new config.
  EXPECT_EQ(after.route_cluster, (std::vector<int>{1, 0}));
}

}  // namespace
}  // namespace spillway::server
