// A device allocation that grows on demand (cudaMalloc; contents are not kept when it grows, and
// its pointer changes). Owned by one thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include "upstream-engine/cuda/check.hpp"

namespace spillway::engine::cuda {

template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  ~device_buffer() {
    if (ptr_ != nullptr) (void)cudaFree(ptr_);  // nothing to report to at destruction
  }
  /// At least n elements; empty on success, else the failure (the buffer is then empty).
  std::string reserve(size_t n) {
    if (n <= capacity_) return {};
    const size_t want = std::max(n, capacity_ * 2);
    if (ptr_ != nullptr) SPILLWAY_CUDA_TRY(cudaFree(ptr_));
    ptr_ = nullptr;
    capacity_ = 0;
    SPILLWAY_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&ptr_), want * sizeof(T)));
    capacity_ = want;
    return {};
  }
  T* get() const noexcept { return ptr_; }
  size_t capacity() const noexcept { return capacity_; }

 private:
  T* ptr_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace spillway::engine::cuda
