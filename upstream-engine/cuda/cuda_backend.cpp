#include "upstream-engine/cuda/cuda_backend.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <fmt/format.h>
#include <cmath>
#include <optional>
#include <type_traits>
#include <vector>

#include "upstream-engine/kernels/kernels.hpp"

namespace spillway::engine::cuda {
namespace {

std::string cuda_failure(cudaError_t e, const char* what, const char* file, int line) {
  return fmt::format("{}:{}: {}: {}", file, line, what, cudaGetErrorString(e));
}
std::string cublas_failure(cublasStatus_t s, const char* what, const char* file, int line) {
  return fmt::format("{}:{}: {}: cuBLAS status {}", file, line, what, static_cast<int>(s));
}

// Return the failure from the enclosing function (which returns std::string).
#define SPILLWAY_CUDA_TRY(expr)                                           \
  do {                                                                    \
    if (const cudaError_t spillway_e = (expr); spillway_e != cudaSuccess) \
      return cuda_failure(spillway_e, #expr, __FILE__, __LINE__);         \
  } while (0)
#define SPILLWAY_CUBLAS_TRY(expr)                                                      \
  do {                                                                                 \
    if (const cublasStatus_t spillway_s = (expr); spillway_s != CUBLAS_STATUS_SUCCESS) \
      return cublas_failure(spillway_s, #expr, __FILE__, __LINE__);                    \
  } while (0)

/// The few cuBLAS entry points we use, loaded with dlopen when a CUDA backend is made: linking
/// libcublas (and the 540 MB libcublasLt behind it) would cost every process, CPU-only runs and
/// each test included, about half a second and 200 MB at start-up.
struct cublas_api {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
};

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
    if (!ok) return std::nullopt;
    return a;
  }();
  if (!api) error = load_error;
  return api ? &*api : nullptr;
}

/// A device allocation that grows on demand.
template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  ~device_buffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
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

 private:
  T* ptr_ = nullptr;
  size_t capacity_ = 0;
};

class cuda_backend final : public runtime::backend {
 public:
  cuda_backend(const model::checkpoint& ck, runtime::kv_geometry kv, const cublas_api& blas)
      : cfg_(ck.config()), kv_(kv), api_(blas) {}
  ~cuda_backend() override {
    if (blas_ != nullptr) api_.destroy(blas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  std::string init(const model::checkpoint& ck);

  const char* name() const noexcept override { return "cuda"; }
  const model::model_config& config() const noexcept override { return cfg_; }
  runtime::kv_geometry geometry() const noexcept override { return kv_; }
  std::string forward(const runtime::batch_input& in, std::span<float> logits,
                      std::span<int32_t> argmax) override;

 private:
  std::string check(const runtime::batch_input& in, std::span<float> logits,
                    std::span<int32_t> argmax) const;
  std::string reserve(size_t tokens, size_t rows, size_t table);
  std::string upload(const runtime::batch_input& in);
  std::string layer(int l, int t, int max_context);
  // out[rows][n_out] = x[rows][n_in] . w^T (+ out when accumulate).
  std::string gemm(float* out, const float* x, const float* w, int rows, int n_in, int n_out,
                   bool accumulate);
  const float* dev(const float* host) const { return d_weights_.get() + (host - host_base_); }

  const model::model_config cfg_;
  const runtime::kv_geometry kv_;
  const cublas_api& api_;
  model::weights_view host_w_;
  const float* host_base_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  device_buffer<float> d_weights_;
  device_buffer<float> k_cache_, v_cache_, rope_;
  device_buffer<float> x_, xb_, q_, k_, v_, att_, hb_, hb2_, logits_;
  device_buffer<int32_t> ints_;  // tokens, pos, seq, slots, logit rows, argmax, offsets, table
  std::vector<int32_t> host_ints_;
  // Offsets of each array inside ints_.
  size_t o_tokens_ = 0, o_pos_ = 0, o_seq_ = 0, o_slots_ = 0, o_rows_ = 0, o_argmax_ = 0,
         o_offsets_ = 0, o_table_ = 0;
};

std::string cuda_backend::init(const model::checkpoint& ck) {
  host_w_ = ck.weights();
  host_base_ = host_w_.token_embedding;
  SPILLWAY_CUDA_TRY(cudaSetDevice(0));
  SPILLWAY_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  SPILLWAY_CUBLAS_TRY(api_.create(&blas_));
  SPILLWAY_CUBLAS_TRY(api_.set_stream(blas_, stream_));
  // Plain FP32 so greedy tokens match the CPU backend.
  SPILLWAY_CUBLAS_TRY(api_.set_math_mode(blas_, CUBLAS_PEDANTIC_MATH));

  // Everything after the header, freq_cis and classifier included, in one copy.
  const size_t floats = (ck.file_bytes() - model::checkpoint_header_bytes) / sizeof(float);
  if (std::string e = d_weights_.reserve(floats); !e.empty()) return e;
  SPILLWAY_CUDA_TRY(
      cudaMemcpy(d_weights_.get(), host_base_, floats * sizeof(float), cudaMemcpyHostToDevice));

  const size_t cache =
      static_cast<size_t>(cfg_.n_layers) * kv_.num_blocks * kv_.block_size * cfg_.kv_dim();
  if (std::string e = k_cache_.reserve(cache); !e.empty()) return e;
  if (std::string e = v_cache_.reserve(cache); !e.empty()) return e;
  SPILLWAY_CUDA_TRY(cudaMemset(k_cache_.get(), 0, cache * sizeof(float)));
  SPILLWAY_CUDA_TRY(cudaMemset(v_cache_.get(), 0, cache * sizeof(float)));

  const int hs = cfg_.head_size(), half = hs / 2;
  std::vector<float> table(static_cast<size_t>(cfg_.seq_len) * hs);
  for (int pos = 0; pos < cfg_.seq_len; ++pos) {
    for (int k = 0; k < half; ++k) {
      const double freq = 1.0 / std::pow(10000.0, 2.0 * k / hs);
      table[static_cast<size_t>(pos) * hs + k] = static_cast<float>(std::cos(pos * freq));
      table[static_cast<size_t>(pos) * hs + half + k] = static_cast<float>(std::sin(pos * freq));
    }
  }
  if (std::string e = rope_.reserve(table.size()); !e.empty()) return e;
  SPILLWAY_CUDA_TRY(
      cudaMemcpy(rope_.get(), table.data(), table.size() * sizeof(float), cudaMemcpyHostToDevice));
  return {};
}

std::string cuda_backend::check(const runtime::batch_input& in, std::span<float> logits,
                                std::span<int32_t> argmax) const {
  const size_t t = in.tokens.size();
  if (in.pos.size() != t || in.seq.size() != t) return "batch arrays differ in length";
  if (in.want_logits.size() != in.logit_rows.size()) return "want_logits size mismatch";
  if (logits.size() < in.logit_rows.size() * static_cast<size_t>(cfg_.vocab_size) ||
      argmax.size() < in.logit_rows.size())
    return "output buffers too small";
  for (size_t i = 0; i < t; ++i) {
    if (in.tokens[i] < 0 || in.tokens[i] >= cfg_.vocab_size)
      return fmt::format("bad token {}", in.tokens[i]);
    if (in.pos[i] < 0 || in.pos[i] >= cfg_.seq_len)
      return fmt::format("bad position {}", in.pos[i]);
    if (in.seq[i] < 0 || static_cast<size_t>(in.seq[i]) >= in.table_offset.size())
      return "bad sequence index";
    const size_t entry = static_cast<size_t>(in.table_offset[static_cast<size_t>(in.seq[i])]) +
                         static_cast<size_t>(in.pos[i] / kv_.block_size);
    if (entry >= in.block_table.size()) return "block table too short";
  }
  for (int32_t b : in.block_table)
    if (b < 0 || b >= kv_.num_blocks) return fmt::format("bad block id {}", b);
  for (int32_t r : in.logit_rows)
    if (r < 0 || static_cast<size_t>(r) >= t) return "bad logit row";
  return {};
}

std::string cuda_backend::reserve(size_t t, size_t rows, size_t table) {
  const size_t dim = static_cast<size_t>(cfg_.dim), kvd = static_cast<size_t>(cfg_.kv_dim());
  const size_t hid = static_cast<size_t>(cfg_.hidden_dim);
  for (auto* b : {&x_, &xb_, &q_, &att_})
    if (std::string e = b->reserve(t * dim); !e.empty()) return e;
  for (auto* b : {&k_, &v_})
    if (std::string e = b->reserve(t * kvd); !e.empty()) return e;
  for (auto* b : {&hb_, &hb2_})
    if (std::string e = b->reserve(t * hid); !e.empty()) return e;
  if (std::string e = logits_.reserve(std::max<size_t>(1, rows) * cfg_.vocab_size); !e.empty())
    return e;
  return ints_.reserve(4 * t + 2 * rows + table + t + 1);
}

std::string cuda_backend::upload(const runtime::batch_input& in) {
  // One packed host array, one copy.
  host_ints_.clear();
  auto put = [&](const std::vector<int32_t>& v) {
    const size_t at = host_ints_.size();
    host_ints_.insert(host_ints_.end(), v.begin(), v.end());
    return at;
  };
  o_tokens_ = put(in.tokens);
  o_pos_ = put(in.pos);
  o_seq_ = put(in.seq);
  o_slots_ = host_ints_.size();
  for (size_t i = 0; i < in.tokens.size(); ++i) {
    const int p = in.pos[i];
    const int32_t block = in.block_table[static_cast<size_t>(
        in.table_offset[static_cast<size_t>(in.seq[i])] + p / kv_.block_size)];
    host_ints_.push_back(block * kv_.block_size + p % kv_.block_size);
  }
  o_rows_ = put(in.logit_rows);
  o_argmax_ = host_ints_.size();
  host_ints_.resize(host_ints_.size() + in.logit_rows.size(), 0);
  o_offsets_ = put(in.table_offset);
  o_table_ = put(in.block_table);
  SPILLWAY_CUDA_TRY(cudaMemcpyAsync(ints_.get(), host_ints_.data(),
                                    host_ints_.size() * sizeof(int32_t), cudaMemcpyHostToDevice,
                                    stream_));
  return {};
}

std::string cuda_backend::gemm(float* out, const float* x, const float* w, int rows, int n_in,
                               int n_out, bool accumulate) {
  // Row-major out = x . w^T is column-major out^T = w^T(as stored: n_in x n_out) ^T . x^T.
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  SPILLWAY_CUBLAS_TRY(api_.sgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, n_out, rows, n_in, &alpha, w,
                                 n_in, x, n_in, &beta, out, n_out));
  return {};
}

std::string cuda_backend::layer(int l, int t, int max_context) {
  const int dim = cfg_.dim, kvd = cfg_.kv_dim(), hid = cfg_.hidden_dim, hs = cfg_.head_size();
  const size_t L = static_cast<size_t>(l), d = static_cast<size_t>(dim);
  int32_t* ints = ints_.get();
  std::string e;
  SPILLWAY_CUDA_TRY(kernels::rmsnorm(xb_.get(), x_.get(), nullptr, t, dev(host_w_.rms_att + L * d),
                                     dim, stream_));
  if (!(e = gemm(q_.get(), xb_.get(), dev(host_w_.wq + L * d * d), t, dim, dim, false)).empty())
    return e;
  if (!(e = gemm(k_.get(), xb_.get(), dev(host_w_.wk + L * kvd * d), t, dim, kvd, false)).empty())
    return e;
  if (!(e = gemm(v_.get(), xb_.get(), dev(host_w_.wv + L * kvd * d), t, dim, kvd, false)).empty())
    return e;
  SPILLWAY_CUDA_TRY(
      kernels::rope(q_.get(), k_.get(), ints + o_pos_, rope_.get(), t, dim, kvd, hs, stream_));
  const size_t layer_cache = static_cast<size_t>(kv_.num_blocks) * kv_.block_size * kvd;
  float* kc = k_cache_.get() + L * layer_cache;
  float* vc = v_cache_.get() + L * layer_cache;
  SPILLWAY_CUDA_TRY(
      kernels::kv_store(kc, vc, k_.get(), v_.get(), ints + o_slots_, t, kvd, stream_));
  const kernels::attention_shape shape{t,  cfg_.n_heads,   cfg_.n_kv_heads,
                                       hs, kv_.block_size, max_context};
  SPILLWAY_CUDA_TRY(kernels::paged_attention(att_.get(), q_.get(), kc, vc, ints + o_table_,
                                             ints + o_offsets_, ints + o_seq_, ints + o_pos_, shape,
                                             stream_));
  if (!(e = gemm(x_.get(), att_.get(), dev(host_w_.wo + L * d * d), t, dim, dim, true)).empty())
    return e;

  SPILLWAY_CUDA_TRY(kernels::rmsnorm(xb_.get(), x_.get(), nullptr, t, dev(host_w_.rms_ffn + L * d),
                                     dim, stream_));
  const size_t h = static_cast<size_t>(hid);
  if (!(e = gemm(hb_.get(), xb_.get(), dev(host_w_.w1 + L * h * d), t, dim, hid, false)).empty())
    return e;
  if (!(e = gemm(hb2_.get(), xb_.get(), dev(host_w_.w3 + L * h * d), t, dim, hid, false)).empty())
    return e;
  SPILLWAY_CUDA_TRY(kernels::swiglu(hb_.get(), hb2_.get(), static_cast<size_t>(t) * h, stream_));
  return gemm(x_.get(), hb_.get(), dev(host_w_.w2 + L * d * h), t, hid, dim, true);
}

std::string cuda_backend::forward(const runtime::batch_input& in, std::span<float> logits,
                                  std::span<int32_t> argmax_out) {
  if (std::string e = check(in, logits, argmax_out); !e.empty()) return e;
  const int t = static_cast<int>(in.tokens.size());
  const int rows = static_cast<int>(in.logit_rows.size());
  if (t == 0) return {};
  if (std::string e =
          reserve(static_cast<size_t>(t), static_cast<size_t>(rows), in.block_table.size());
      !e.empty())
    return e;
  if (std::string e = upload(in); !e.empty()) return e;
  int max_context = 1;
  for (int32_t p : in.pos) max_context = std::max(max_context, p + 1);

  int32_t* ints = ints_.get();
  SPILLWAY_CUDA_TRY(kernels::embedding(x_.get(), dev(host_w_.token_embedding), ints + o_tokens_, t,
                                       cfg_.dim, stream_));
  for (int l = 0; l < cfg_.n_layers; ++l)
    if (std::string e = layer(l, t, max_context); !e.empty()) return e;
  if (rows > 0) {
    SPILLWAY_CUDA_TRY(kernels::rmsnorm(xb_.get(), x_.get(), ints + o_rows_, rows,
                                       dev(host_w_.rms_final), cfg_.dim, stream_));
    if (std::string e = gemm(logits_.get(), xb_.get(), dev(host_w_.wcls), rows, cfg_.dim,
                             cfg_.vocab_size, false);
        !e.empty())
      return e;
    SPILLWAY_CUDA_TRY(
        kernels::argmax(ints + o_argmax_, logits_.get(), rows, cfg_.vocab_size, stream_));
    SPILLWAY_CUDA_TRY(cudaMemcpyAsync(argmax_out.data(), ints + o_argmax_,
                                      static_cast<size_t>(rows) * sizeof(int32_t),
                                      cudaMemcpyDeviceToHost, stream_));
    const size_t vocab = static_cast<size_t>(cfg_.vocab_size);
    for (int r = 0; r < rows; ++r) {
      if (in.want_logits[static_cast<size_t>(r)] == 0) continue;
      SPILLWAY_CUDA_TRY(cudaMemcpyAsync(logits.data() + r * vocab, logits_.get() + r * vocab,
                                        vocab * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    }
  }
  SPILLWAY_CUDA_TRY(cudaStreamSynchronize(stream_));
  return {};
}

}  // namespace

bool cublas_loadable(std::string& error) {
  return load_cublas(error) != nullptr;
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::unique_ptr<runtime::backend> make_cuda_backend(const model::checkpoint& ck,
                                                    runtime::kv_geometry kv, std::string& error) {
  if (device_count() == 0) {
    error = "no CUDA device is available";
    return nullptr;
  }
  const cublas_api* blas = load_cublas(error);
  if (blas == nullptr) return nullptr;
  auto be = std::make_unique<cuda_backend>(ck, kv, *blas);
  if (std::string e = be->init(ck); !e.empty()) {
    error = "CUDA backend: " + e;
    return nullptr;
  }
  return be;
}

}  // namespace spillway::engine::cuda
