// Damaged input never crashes the importer, and whatever it translates without errors loads:
// every data file cut at many points and with bytes flipped (fixed seed, so failures repeat).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "config/loader.hpp"
#include "config/nginx_import.hpp"

namespace spillway::config {
namespace {

std::vector<std::pair<std::string, std::string>> data_files() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : std::filesystem::directory_iterator(SPILLWAY_NGINX_TEST_DATA)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    out.emplace_back(e.path().filename().string(), s.str());
  }
  return out;
}

void check(const std::string& text, const std::string& what) {
  import_result r = import_nginx(text, "damaged.conf");
  if (!r.errors.empty()) return;
  ASSERT_FALSE(r.yaml.empty()) << what;
  load_result loaded = load_string(r.yaml, "damaged.yaml");
  ASSERT_TRUE(loaded.ok()) << what << "\n"
                           << (loaded.errors.empty() ? "" : loaded.errors[0].to_string()) << "\n"
                           << r.yaml;
}

TEST(NginxImportRobustness, TruncatedFiles) {
  auto files = data_files();
  ASSERT_GE(files.size(), 10u);
  for (const auto& [name, text] : files)
    for (size_t cut = 0; cut < text.size(); cut += 5)
      check(text.substr(0, cut), name + " cut at " + std::to_string(cut));
}

TEST(NginxImportRobustness, MutatedFiles) {
  std::mt19937 rng(20240601);
  const std::string alphabet = "{};\"'#\\$ \n/:=~^*@0123456789abcxyz";
  for (const auto& [name, text] : data_files()) {
    if (text.empty()) continue;
    for (int round = 0; round < 60; ++round) {
      std::string mutated = text;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < edits; ++i) {
        size_t at = rng() % mutated.size();
        mutated[at] = alphabet[rng() % alphabet.size()];
      }
      check(mutated, name + " round " + std::to_string(round));
    }
  }
}

}  // namespace
}  // namespace spillway::config
