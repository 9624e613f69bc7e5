// Status checks of the CUDA backend: a failed CUDA or cuBLAS call becomes a message with the call,
// file and line, returned from the enclosing function (which returns std::string, empty on
// success). Any thread.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <fmt/format.h>
#include <string>

namespace spillway::engine::cuda {

inline std::string cuda_failure(cudaError_t e, const char* what, const char* file, int line) {
  return fmt::format("{}:{}: {}: {}", file, line, what, cudaGetErrorString(e));
}
inline std::string cublas_failure(cublasStatus_t s, const char* what, const char* file, int line) {
  return fmt::format("{}:{}: {}: cuBLAS status {}", file, line, what, static_cast<int>(s));
}

}  // namespace spillway::engine::cuda

#define SPILLWAY_CUDA_TRY(expr)                                                             \
  do {                                                                                      \
    if (const cudaError_t spillway_e = (expr); spillway_e != cudaSuccess)                   \
      return ::spillway::engine::cuda::cuda_failure(spillway_e, #expr, __FILE__, __LINE__); \
  } while (0)
#define SPILLWAY_CUBLAS_TRY(expr)                                                             \
  do {                                                                                        \
    if (const cublasStatus_t spillway_s = (expr); spillway_s != CUBLAS_STATUS_SUCCESS)        \
      return ::spillway::engine::cuda::cublas_failure(spillway_s, #expr, __FILE__, __LINE__); \
  } while (0)
