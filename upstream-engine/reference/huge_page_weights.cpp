#include "upstream-engine/reference/huge_page_weights.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>

namespace spillway::engine::reference {
namespace {

constexpr size_t huge_page = size_t{2} << 20;

const float* rebase(const float* p, const float* from, const float* to) {
  return p ? to + (p - from) : nullptr;
}

}  // namespace

huge_page_weights::huge_page_weights(const model::weights_view& w, size_t floats) : view_(w) {
  if (!w.token_embedding || floats == 0) return;
  const size_t bytes = floats * sizeof(float);
  // One huge page of slack to start the copy on a huge-page boundary (THP needs aligned ranges).
  map_bytes_ = (bytes + huge_page - 1) / huge_page * huge_page + huge_page;
  void* m = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return;
  map_ = m;
  const auto addr = reinterpret_cast<uintptr_t>(m);
  auto* base = reinterpret_cast<float*>((addr + huge_page - 1) / huge_page * huge_page);
  madvise(base, bytes, MADV_HUGEPAGE);  // advice only: failure leaves 4 KiB pages
  std::memcpy(base, w.token_embedding, bytes);
  mprotect(map_, map_bytes_, PROT_READ);
  const float* from = w.token_embedding;
  for (const float* model::weights_view::*field :
       {&model::weights_view::token_embedding, &model::weights_view::rms_att,
        &model::weights_view::wq, &model::weights_view::wk, &model::weights_view::wv,
        &model::weights_view::wo, &model::weights_view::rms_ffn, &model::weights_view::w1,
        &model::weights_view::w2, &model::weights_view::w3, &model::weights_view::rms_final,
        &model::weights_view::wcls})
    view_.*field = rebase(w.*field, from, base);
}

huge_page_weights::~huge_page_weights() {
  if (map_) munmap(map_, map_bytes_);
}

}  // namespace spillway::engine::reference
