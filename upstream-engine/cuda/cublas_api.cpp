#include "upstream-engine/cuda/cublas_api.hpp"

#include <dlfcn.h>

#include <fmt/format.h>
#include <optional>
#include <type_traits>

namespace spillway::engine::cuda {

const cublas_api* load_cublas(std::string& error) {
  static std::string load_error;
  static const std::optional<cublas_api> api = []() -> std::optional<cublas_api> {
    void* lib = nullptr;
    for (const char* name : {SPILLWAY_CUBLAS_SONAME, SPILLWAY_CUBLAS_PATH}) {
      lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib != nullptr) break;
    }
    if (lib == nullptr) {
      const char* why = dlerror();
      load_error = fmt::format("cannot load cuBLAS ({}): {}", SPILLWAY_CUBLAS_SONAME,
                               why ? why : "not found");
      return std::nullopt;
    }
    cublas_api a;
    bool ok = true;
    auto bind = [&](auto& fn, const char* symbol) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, symbol));
      if (fn == nullptr) {
        ok = false;
        load_error = fmt::format("cuBLAS has no {}", symbol);
      }
    };
    bind(a.create, "cublasCreate_v2");
    bind(a.destroy, "cublasDestroy_v2");
    bind(a.set_stream, "cublasSetStream_v2");
    bind(a.set_math_mode, "cublasSetMathMode");
    bind(a.sgemm, "cublasSgemm_v2");
    bind(a.set_workspace, "cublasSetWorkspace_v2");
    if (!ok) return std::nullopt;
    return a;
  }();
  if (!api) error = load_error;
  return api ? &*api : nullptr;
}

}  // namespace spillway::engine::cuda
