// CUDA backend: the llama2 forward pass on one GPU. cuBLAS (FP32, no TF32) does the matrix
// products, the residual adds folded in with beta = 1; our kernels (kernels/) do embedding,
// RMSNorm, RoPE, the paged-KV store, attention over the paged cache, SwiGLU and argmax. Weights
// are copied to the device once; the KV cache lives on the device. Every CUDA and cuBLAS call
// is checked and a failure comes back as a message with file and line.
// Scheduler thread only (one stream).
#pragma once

#include <memory>
#include <string>

#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/runtime/backend.hpp"

namespace spillway::engine::cuda {

/// CUDA devices usable here; 0 without a driver or a device.
int device_count();

/// Whether cuBLAS can be loaded (it is opened at run time, not linked).
bool cublas_loadable(std::string& error);

/// A backend on device 0, or nullptr with `error` set.
std::unique_ptr<runtime::backend> make_cuda_backend(const model::checkpoint& ck,
                                                    runtime::kv_geometry kv, std::string& error);

}  // namespace spillway::engine::cuda
