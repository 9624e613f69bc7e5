// Helpers shared by the config loader tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"

namespace spillway::config::testing {

inline std::string data_path(const std::string& name) {
  return std::string(SPILLWAY_CONFIG_TEST_DATA) + "/" + name;
}
inline std::string example_path(const std::string& name) {
  return std::string(SPILLWAY_CONFIG_EXAMPLES) + "/" + name;
}

inline std::string dump(const std::vector<config_error>& list) {
  std::string out;
  for (const auto& e : list) out += "  " + e.to_string() + "\n";
  return out;
}

/// The error reported for `key`, or nullptr.
inline const config_error* find_error(const load_result& r, const std::string& key) {
  for (const auto& e : r.errors)
    if (e.where.key == key) return &e;
  return nullptr;
}

/// Asserts one error for `key` at `line` whose message holds `text`.
inline ::testing::AssertionResult has_error(const load_result& r, const std::string& key, int line,
                                            const std::string& text) {
  for (const auto& e : r.errors)
    if (e.where.key == key && e.where.line == line && e.message.find(text) != std::string::npos)
      return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "no error for " << key << " at line " << line << " containing '" << text << "'; got:\n"
         << dump(r.errors);
}

/// A valid minimal configuration with `extra` appended (extra starts at line 9).
inline std::string minimal(const std::string& extra = "") {
  return "listeners:\n"                                   // 1
         "  - {name: public, address: 127.0.0.1:8080}\n"  // 2
         "clusters:\n"                                    // 3
         "  - name: engines\n"                            // 4
         "    endpoints: [{address: 127.0.0.1:9001}]\n"   // 5
         "routes:\n"                                      // 6
         "  - name: default\n"                            // 7
         "    cluster: engines\n"                         // 8
         + extra;
}

}  // namespace spillway::config::testing
