// The shipped examples (config/examples/) load with no errors and no warnings, and the fuzz
// entry survives truncated and byte-flipped versions of them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/loader.hpp"
#include "test_util.hpp"

namespace spillway::config {
namespace testing {
size_t fuzz_one(const uint8_t* data, size_t size);
}
namespace {

using namespace std::chrono_literals;
using testing::dump;
using testing::example_path;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class Examples : public ::testing::Test {
 protected:
  void SetUp() override {
    // The examples take these from the environment with defaults; make the test independent of it.
    for (const char* name : {"SPILLWAY_AFFINITY_SECRET", "REDIS_PASSWORD", "SPILLWAY_ADMIN_TOKEN"})
      ::unsetenv(name);
  }
};

TEST_F(Examples, FullExampleLoadsCleanly) {
  auto r = load_file(example_path("spillway.yaml"));
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
  const auto& c = *r.config;
  EXPECT_EQ(c.clusters.size(), 2u);
  EXPECT_EQ(c.routes.size(), 3u);
  ASSERT_TRUE(c.routes[0].fallback_response);
  EXPECT_FALSE(c.routes[0].fallback_response->body.empty());
  EXPECT_TRUE(c.find_cluster("engines-small"));
  ASSERT_TRUE(c.cache);
  EXPECT_TRUE(c.cache->redis);
}

TEST_F(Examples, LocalExampleIsTheReadmeTopology) {
  auto r = load_file(example_path("local.yaml"));
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
  const auto& c = *r.config;
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1:8080");
  ASSERT_TRUE(c.admin);
  EXPECT_EQ(c.admin->address, "127.0.0.1:9901");
  ASSERT_EQ(c.clusters.size(), 1u);
  const auto& engines = c.clusters[0];
  EXPECT_EQ(engines.name, "engines");
  EXPECT_EQ(engines.balancer, balancer_kind::least_conn);
  ASSERT_EQ(engines.endpoints.size(), 3u);
  const char* addresses[] = {"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"};
  const uint32_t weights[] = {5, 3, 2};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(engines.endpoints[i].address, addresses[i]);
    EXPECT_EQ(engines.endpoints[i].weight, weights[i]);
  }
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].clusters.at(0).name, "engines");
}

// Every prefix (in steps) and many single-byte corruptions of the examples: the loader must
// return (errors or a config) without crashing or throwing.
TEST_F(Examples, FuzzEntrySurvivesTruncationAndCorruption) {
  for (const char* name : {"spillway.yaml", "local.yaml"}) {
    std::string text = read_text(example_path(name));
    ASSERT_FALSE(text.empty()) << name;
    auto bytes = [](const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); };
    size_t failures = 0;
    for (size_t cut = 0; cut < text.size(); cut += 13)
      failures += testing::fuzz_one(bytes(text), cut) > 0;
    EXPECT_GT(failures, 0u);  // most prefixes are incomplete configs
    const char replacements[] = {'{', '[', ':', '-', '"', '\'', '&', '*', '\0', '\t', '$', '!'};
    for (size_t pos = 0, k = 0; pos < text.size(); pos += 29, ++k) {
      std::string mutated = text;
      mutated[pos] = replacements[k % sizeof(replacements)];
      testing::fuzz_one(bytes(mutated), mutated.size());
    }
  }
}

}  // namespace
}  // namespace spillway::config
