// Fuzz entry for the config loader: any bytes must give a result (errors or a config), never a
// crash, an exception or a sanitizer report. Built as a libFuzzer target with clang; with any
// compiler the function is also driven by examples_test.cpp over truncated and mutated examples.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/loader.hpp"

namespace spillway::config::testing {

/// Loads `data` as a config file; returns the number of errors (so the call is not optimised out).
size_t fuzz_one(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  load_result r = load_string(text, "fuzz.yaml");
  for (const auto& e : r.errors) (void)e.to_string();
  return r.errors.size();
}

}  // namespace spillway::config::testing

#ifdef SPILLWAY_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  spillway::config::testing::fuzz_one(data, size);
  return 0;
}
#endif
