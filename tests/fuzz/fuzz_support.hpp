// Shared pieces of the HTTP/1 fuzz targets: a check that aborts (so libFuzzer records the input)
// and input-derived split points, so that mutating an input also moves where it is cut.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#define SPILLWAY_FUZZ_CHECK(cond)                                                        \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace spillway::fuzz {

/// Random stream seeded from the input: FNV-1a of the bytes, then splitmix64 steps
/// (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", 2014).
class input_random {
 public:
  explicit input_random(std::string_view input) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : input) h = (h ^ c) * 0x100000001b3ull;
    state_ = h;
  }
  uint64_t next() noexcept {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

/// Sorted cut offsets inside [1, size): mostly short pieces (1 to 16 bytes, the edge cases of
/// a parser that must resume anywhere), now and then a long one.
inline std::vector<size_t> split_points(input_random& rng, size_t size) {
  std::vector<size_t> cuts;
  size_t at = 0;
  while (true) {
    const uint64_t r = rng.next();
    at += (r & 7) == 0 ? 1 + (r >> 8) % 512 : 1 + (r >> 8) % 16;
    if (at >= size) break;
    cuts.push_back(at);
  }
  return cuts;
}

/// Entry points, also driven by http1_fuzz_replay over the corpus.
int http1_request_one(const uint8_t* data, size_t size);
int http1_response_one(const uint8_t* data, size_t size);

}  // namespace spillway::fuzz
