#include "upstream-engine/reference/packed_weights.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <new>

namespace spillway::engine::reference {
namespace {

constexpr size_t huge_page = size_t{2} << 20;

// Every array starts on a 64-byte line (packed panels then read whole lines per k step).
size_t line_up(size_t floats) {
  return (floats + 15) / 16 * 16;
}

}  // namespace

packed_weights::packed_weights(const model::weights_view& w, const model::model_config& c) {
  const size_t d = static_cast<size_t>(c.dim), layers = static_cast<size_t>(c.n_layers);
  const size_t vocab = static_cast<size_t>(c.vocab_size);
  const int dim = c.dim, kvd = c.kv_dim(), hid = c.hidden_dim;
  struct matrix {
    packed_layers* to;
    const float* from;
    int in_dim, out_dim;
  };
  const matrix matrices[] = {{&wq, w.wq, dim, dim}, {&wk, w.wk, dim, kvd}, {&wv, w.wv, dim, kvd},
                             {&wo, w.wo, dim, dim}, {&w1, w.w1, dim, hid}, {&w2, w.w2, hid, dim},
                             {&w3, w.w3, dim, hid}};
  size_t floats =
      line_up(vocab * d) + 2 * line_up(layers * d) + line_up(d) + packed_floats(dim, c.vocab_size);
  for (const matrix& m : matrices) floats += layers * packed_floats(m.in_dim, m.out_dim);
  bytes_ = floats * sizeof(float);
  // One huge page of slack to start the copy on a huge-page boundary (THP needs aligned ranges).
  map_bytes_ = (bytes_ + huge_page - 1) / huge_page * huge_page + huge_page;
  void* m = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  map_ = m;
  const auto addr = reinterpret_cast<uintptr_t>(m);
  auto* base = reinterpret_cast<float*>((addr + huge_page - 1) / huge_page * huge_page);
  madvise(base, bytes_, MADV_HUGEPAGE);  // advice only: failure leaves 4 KiB pages
  float* next = base;
  auto copy = [&](const float* from, size_t n) {
    float* to = next;
    std::memcpy(to, from, n * sizeof(float));
    next += line_up(n);
    return to;
  };
  token_embedding = copy(w.token_embedding, vocab * d);
  rms_att = copy(w.rms_att, layers * d);
  rms_ffn = copy(w.rms_ffn, layers * d);
  rms_final = copy(w.rms_final, d);
  for (const matrix& mx : matrices) {
    *mx.to = {next, mx.in_dim, mx.out_dim};
    const size_t in = static_cast<size_t>(mx.in_dim), out = static_cast<size_t>(mx.out_dim);
    for (size_t l = 0; l < layers; ++l) {
      pack_matrix(next, mx.from + l * out * in, mx.in_dim, mx.out_dim);
      next += packed_floats(mx.in_dim, mx.out_dim);
    }
  }
  pack_matrix(next, w.wcls, dim, c.vocab_size);
  wcls = {next, dim, c.vocab_size};
  mprotect(map_, map_bytes_, PROT_READ);
}

packed_weights::~packed_weights() {
  munmap(map_, map_bytes_);
}

}  // namespace spillway::engine::reference
