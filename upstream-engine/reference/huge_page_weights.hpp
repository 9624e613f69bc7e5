// A private copy of a checkpoint's weights for the CPU backend, in anonymous memory advised for
// transparent huge pages (madvise MADV_HUGEPAGE). A decode step streams every weight once, and
// with 4 KiB pages each 4 KiB of it costs a TLB miss and a page walk: on the 2-core EPYC VM the
// single-row products ran 25% and the tiled ones 16% faster from huge pages (bench/README.md,
// "Engine (CPU backend)"). The kernel may still give 4 KiB pages; the copy then only costs memory.
// Immutable after construction (read-only mapping): safe to read from any thread.
#pragma once

#include <cstddef>

#include "upstream-engine/model/checkpoint.hpp"

namespace spillway::engine::reference {

class huge_page_weights {
 public:
  /// Copies the `floats` weight values that start at w.token_embedding (every array of `w`
  /// lies in that range). On failure holds nothing and view() returns `w` itself.
  huge_page_weights(const model::weights_view& w, size_t floats);
  ~huge_page_weights();
  huge_page_weights(const huge_page_weights&) = delete;
  huge_page_weights& operator=(const huge_page_weights&) = delete;

  /// The arrays of the copy (or the original view when there is no copy).
  const model::weights_view& view() const noexcept { return view_; }
  bool copied() const noexcept { return map_ != nullptr; }

 private:
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  model::weights_view view_;
};

}  // namespace spillway::engine::reference
