// The CPU backend's private copy of a checkpoint's weights: every matrix repacked into panels
// (cpu_ops.hpp, packed_matrix) so that any batch size reads each matrix as one sequential stream,
// plus the arrays read by index (token embedding, norm weights) in their original layout.
// The copy lives in anonymous memory advised for transparent huge pages (madvise MADV_HUGEPAGE):
// a decode step streams every weight once, and with 4 KiB pages each 4 KiB of it costs a TLB
// miss and a page walk (on the 2-core EPYC VM the products ran 16-25% faster from huge pages;
// bench/README.md, "Engine (CPU backend)"). The kernel may still give 4 KiB pages; that only
// loses the gain. The embedding and a shared classifier are both kept (row-major for lookups,
// packed for the product): 37 MB more than the file for `small`, 98 MB for `110m`.
// Immutable after construction (read-only mapping): safe to read from any thread.
#pragma once

#include <cstddef>

#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/reference/cpu_ops.hpp"

namespace spillway::engine::reference {

/// One packed matrix per layer, each layer's right after the previous one's.
struct packed_layers {
  const float* data = nullptr;
  int in_dim = 0;
  int out_dim = 0;

  packed_matrix layer(int l) const noexcept {
    return {data + static_cast<size_t>(l) * packed_floats(in_dim, out_dim), in_dim, out_dim};
  }
};

class packed_weights {
 public:
  /// Copies and packs every array of `w` (shaped by `c`). Throws std::bad_alloc when the memory
  /// cannot be mapped, as the backend's other allocations do.
  packed_weights(const model::weights_view& w, const model::model_config& c);
  ~packed_weights();
  packed_weights(const packed_weights&) = delete;
  packed_weights& operator=(const packed_weights&) = delete;

  // Row-major, as in the checkpoint.
  const float* token_embedding = nullptr;  // [vocab][dim]
  const float* rms_att = nullptr;          // [layer][dim]
  const float* rms_ffn = nullptr;          // [layer][dim]
  const float* rms_final = nullptr;        // [dim]
  // Packed.
  packed_layers wq, wk, wv, wo, w1, w2, w3;
  packed_matrix wcls;

  /// Bytes of the copy.
  size_t bytes() const noexcept { return bytes_; }

 private:
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  size_t bytes_ = 0;
};

}  // namespace spillway::engine::reference
