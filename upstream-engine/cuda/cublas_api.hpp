// The few cuBLAS entry points the CUDA backend uses, opened at run time with dlopen. Any thread
// (loaded once, then read-only).
#pragma once

#include <cublas_v2.h>

#include <string>

namespace spillway::engine::cuda {

/// Loaded with dlopen when a CUDA backend is made: linking libcublas (and the 540 MB libcublasLt
/// behind it) would cost every process, CPU-only runs and each test included, about half a
/// second and 200 MB at start-up.
struct cublas_api {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  decltype(&cublasSetWorkspace_v2) set_workspace = nullptr;
};

/// The table, loaded on first use; nullptr with `error` set when cuBLAS cannot be opened.
const cublas_api* load_cublas(std::string& error);

}  // namespace spillway::engine::cuda
