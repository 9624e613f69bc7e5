// Runs the HTTP/1 fuzz entry points over every file of a corpus directory, and over every
// prefix of each file (inputs cut short exercise the need-more paths). Registered with ctest so
// that the corpus runs under the sanitizers with any compiler; libFuzzer is not needed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(argv[i], ec))
      if (e.is_regular_file()) files.push_back(e.path());
    if (ec) {
      std::fprintf(stderr, "%s: %s\n", argv[i], ec.message().c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "no corpus files\n");
    return 2;
  }
  std::sort(files.begin(), files.end());
  size_t runs = 0;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    const std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
    std::printf("%s\n", path.filename().c_str());
    std::fflush(stdout);  // names the input if a check aborts
    for (size_t n = 0; n <= data.size(); ++n) {
      spillway::fuzz::http1_request_one(bytes, n);
      spillway::fuzz::http1_response_one(bytes, n);
      runs += 2;
    }
  }
  std::printf("%zu corpus files, %zu runs\n", files.size(), runs);
  return 0;
}
