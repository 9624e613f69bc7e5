#include "upstream-engine/cuda/cuda_backend.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/log.hpp"
#include "upstream-engine/cuda/check.hpp"
#include "upstream-engine/cuda/cublas_api.hpp"
#include "upstream-engine/cuda/device_buffer.hpp"
#include "upstream-engine/cuda/step_graphs.hpp"
#include "upstream-engine/kernels/kernels.hpp"

namespace spillway::engine::cuda {
namespace {

/// cuBLAS's workspace, ours and set once: every call, captured in a graph or not, then runs
/// with the same memory and so the same algorithm (the same bits), and a capture allocates
/// nothing. 32 MiB is what the cuBLAS guide recommends for Hopper (4 MiB before it).
constexpr size_t cublas_workspace_bytes = size_t{32} << 20;

/// Decode steps of more sequences than this run kernel by kernel.
constexpr int max_graph_tokens = 256;

/// Where each int array of a step sits inside a workspace's int buffer.
struct int_layout {
  size_t tokens = 0, pos = 0, seq = 0, slots = 0, rows = 0, argmax = 0, offsets = 0, table = 0;
};

/// Packed one after the other, each as long as this step needs.
int_layout dense_layout(const runtime::batch_input& in) {
  const size_t t = in.tokens.size(), rows = in.logit_rows.size();
  int_layout a;
  a.pos = t;
  a.seq = 2 * t;
  a.slots = 3 * t;
  a.rows = 4 * t;
  a.argmax = a.rows + rows;
  a.offsets = a.argmax + rows;
  a.table = a.offsets + in.table_offset.size();
  return a;
}

/// At fixed places for steps of up to `tokens` tokens and sequences (the block table last).
int_layout fixed_layout(size_t tokens) {
  int_layout a;
  a.pos = tokens;
  a.seq = 2 * tokens;
  a.slots = 3 * tokens;
  a.rows = 4 * tokens;
  a.argmax = 5 * tokens;
  a.offsets = 6 * tokens;
  a.table = 7 * tokens;
  return a;
}

/// A step's device memory: activations, logits, and the int arrays of an int_layout.
struct workspace {
  device_buffer<float> x, xb, q, k, v, att, hb, hb2, logits;
  device_buffer<int32_t> ints;
};

class cuda_backend final : public runtime::backend {
 public:
  cuda_backend(const model::checkpoint& ck, runtime::kv_geometry kv, const cublas_api& blas,
               const cuda_options& opts)
      : cfg_(ck.config()), kv_(kv), api_(blas), opts_(opts) {}
  ~cuda_backend() override {
    if (stats_.captured > 0)
      log::info("cuda: decode-step graphs: {} captured, {} steps replayed, {} run kernel by kernel",
                stats_.captured, stats_.replayed, stats_.without);
    graphs_.reset();
    if (blas_ != nullptr) api_.destroy(blas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  std::string init(const model::checkpoint& ck);

  const char* name() const noexcept override { return "cuda"; }
  const model::model_config& config() const noexcept override { return cfg_; }
  runtime::kv_geometry geometry() const noexcept override { return kv_; }
  std::string forward(const runtime::batch_input& in, std::span<float> logits,
                      std::span<int32_t> argmax) override;
  const graph_stats& stats() const noexcept { return stats_; }

 private:
  std::string check(const runtime::batch_input& in, std::span<float> logits,
                    std::span<int32_t> argmax) const;
  std::string reserve(workspace& w, size_t tokens, size_t rows, size_t ints);
  std::string init_graphs();
  void graphs_off(const std::string& why);
  bool graph_fits(const runtime::batch_input& in) const;
  std::string plain_step(const runtime::batch_input& in, std::span<float> logits,
                         std::span<int32_t> argmax);
  std::string graph_step(const runtime::batch_input& in, std::span<float> logits,
                         std::span<int32_t> argmax);
  // Packs the step's arrays at `at` into one host array and copies it to w.ints.
  std::string upload(const runtime::batch_input& in, const int_layout& at, workspace& w);
  // Enqueues the whole step on the stream, from the embedding to the argmax; attention sizes its
  // shared memory for `max_context` positions.
  std::string enqueue(workspace& w, const int_layout& at, int t, int rows, int max_context);
  std::string layer(workspace& w, const int_layout& at, int l, int t, int max_context);
  // Copies the argmax and the wanted logit rows back, then waits for the stream.
  std::string fetch(const workspace& w, const int_layout& at, const runtime::batch_input& in,
                    std::span<float> logits, std::span<int32_t> argmax);
  // out[rows][n_out] = x[rows][n_in] . w^T (+ out when accumulate).
  std::string gemm(float* out, const float* x, const float* w, int rows, int n_in, int n_out,
                   bool accumulate);
  const float* dev(const float* host) const { return d_weights_.get() + (host - host_base_); }

  const model::model_config cfg_;
  const runtime::kv_geometry kv_;
  const cublas_api& api_;
  const cuda_options opts_;
  model::weights_view host_w_;
  const float* host_base_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  device_buffer<uint8_t> blas_workspace_;
  device_buffer<float> d_weights_;
  device_buffer<float> k_cache_, v_cache_, rope_;
  workspace plain_;  // grows with the largest step
  std::vector<int32_t> host_ints_;
  // Decode-step graphs. fixed_ is sized once in init_graphs() and never grows: the graphs hold
  // its pointers.
  std::unique_ptr<step_graphs> graphs_;  // null when graphs are off
  workspace fixed_;
  int_layout fixed_at_;
  size_t fixed_table_ = 0;     // block-table entries fixed_ has room for
  std::vector<uint8_t> warm_;  // by token count: a step of that size ran uncaptured already
  graph_stats stats_;
};

std::string cuda_backend::init(const model::checkpoint& ck) {
  host_w_ = ck.weights();
  host_base_ = host_w_.token_embedding;
  SPILLWAY_CUDA_TRY(cudaSetDevice(0));
  SPILLWAY_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  SPILLWAY_CUBLAS_TRY(api_.create(&blas_));
  // Once: cublasSetStream also puts the handle back on cuBLAS's default workspace.
  SPILLWAY_CUBLAS_TRY(api_.set_stream(blas_, stream_));
  if (std::string e = blas_workspace_.reserve(cublas_workspace_bytes); !e.empty()) return e;
  SPILLWAY_CUBLAS_TRY(api_.set_workspace(blas_, blas_workspace_.get(), blas_workspace_.capacity()));
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
  if (opts_.graphs)
    if (std::string e = init_graphs(); !e.empty()) graphs_off(e);
  return {};
}

std::string cuda_backend::init_graphs() {
  const int cap = std::clamp(opts_.max_batch, 1, max_graph_tokens);
  const size_t c = static_cast<size_t>(cap);
  const size_t per_sequence =
      static_cast<size_t>((cfg_.seq_len + kv_.block_size - 1) / kv_.block_size);
  fixed_table_ = c * per_sequence;
  fixed_at_ = fixed_layout(c);
  if (std::string e = reserve(fixed_, c, c, fixed_at_.table + fixed_table_); !e.empty()) return e;
  // Graphs size attention for the longest context, so that no step's length is baked in; the
  // opt-in to that much shared memory happens here, not during a capture.
  SPILLWAY_CUDA_TRY(kernels::paged_attention_prepare(cfg_.head_size(), cfg_.seq_len));
  warm_.assign(c + 1, 0);
  graphs_ = std::make_unique<step_graphs>(cap);
  stats_.enabled = true;
  return {};
}

void cuda_backend::graphs_off(const std::string& why) {
  log::warn("cuda: CUDA graphs off, decode steps run kernel by kernel: {}", why);
  graphs_.reset();
  stats_.enabled = false;
  stats_.failure = why;
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

std::string cuda_backend::reserve(workspace& w, size_t t, size_t rows, size_t ints) {
  const size_t dim = static_cast<size_t>(cfg_.dim), kvd = static_cast<size_t>(cfg_.kv_dim());
  const size_t hid = static_cast<size_t>(cfg_.hidden_dim);
  for (auto* b : {&w.x, &w.xb, &w.q, &w.att})
    if (std::string e = b->reserve(t * dim); !e.empty()) return e;
  for (auto* b : {&w.k, &w.v})
    if (std::string e = b->reserve(t * kvd); !e.empty()) return e;
  for (auto* b : {&w.hb, &w.hb2})
    if (std::string e = b->reserve(t * hid); !e.empty()) return e;
  if (std::string e = w.logits.reserve(std::max<size_t>(1, rows) * cfg_.vocab_size); !e.empty())
    return e;
  return w.ints.reserve(std::max<size_t>(1, ints));
}

std::string cuda_backend::upload(const runtime::batch_input& in, const int_layout& at,
                                 workspace& w) {
  host_ints_.assign(at.table + in.block_table.size(), 0);
  int32_t* h = host_ints_.data();
  std::copy(in.tokens.begin(), in.tokens.end(), h + at.tokens);
  std::copy(in.pos.begin(), in.pos.end(), h + at.pos);
  std::copy(in.seq.begin(), in.seq.end(), h + at.seq);
  for (size_t i = 0; i < in.tokens.size(); ++i) {
    const int p = in.pos[i];
    const int32_t block = in.block_table[static_cast<size_t>(
        in.table_offset[static_cast<size_t>(in.seq[i])] + p / kv_.block_size)];
    h[at.slots + i] = block * kv_.block_size + p % kv_.block_size;
  }
  std::copy(in.logit_rows.begin(), in.logit_rows.end(), h + at.rows);
  std::copy(in.table_offset.begin(), in.table_offset.end(), h + at.offsets);
  std::copy(in.block_table.begin(), in.block_table.end(), h + at.table);
  SPILLWAY_CUDA_TRY(cudaMemcpyAsync(w.ints.get(), h, host_ints_.size() * sizeof(int32_t),
                                    cudaMemcpyHostToDevice, stream_));
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

std::string cuda_backend::layer(workspace& w, const int_layout& at, int l, int t, int max_context) {
  const int dim = cfg_.dim, kvd = cfg_.kv_dim(), hid = cfg_.hidden_dim, hs = cfg_.head_size();
  const size_t L = static_cast<size_t>(l), d = static_cast<size_t>(dim);
  int32_t* ints = w.ints.get();
  std::string e;
  SPILLWAY_CUDA_TRY(kernels::rmsnorm(w.xb.get(), w.x.get(), nullptr, t,
                                     dev(host_w_.rms_att + L * d), dim, stream_));
  if (!(e = gemm(w.q.get(), w.xb.get(), dev(host_w_.wq + L * d * d), t, dim, dim, false)).empty())
    return e;
  if (!(e = gemm(w.k.get(), w.xb.get(), dev(host_w_.wk + L * kvd * d), t, dim, kvd, false)).empty())
    return e;
  if (!(e = gemm(w.v.get(), w.xb.get(), dev(host_w_.wv + L * kvd * d), t, dim, kvd, false)).empty())
    return e;
  SPILLWAY_CUDA_TRY(
      kernels::rope(w.q.get(), w.k.get(), ints + at.pos, rope_.get(), t, dim, kvd, hs, stream_));
  const size_t layer_cache = static_cast<size_t>(kv_.num_blocks) * kv_.block_size * kvd;
  float* kc = k_cache_.get() + L * layer_cache;
  float* vc = v_cache_.get() + L * layer_cache;
  SPILLWAY_CUDA_TRY(
      kernels::kv_store(kc, vc, w.k.get(), w.v.get(), ints + at.slots, t, kvd, stream_));
  const kernels::attention_shape shape{t,  cfg_.n_heads,   cfg_.n_kv_heads,
                                       hs, kv_.block_size, max_context};
  SPILLWAY_CUDA_TRY(kernels::paged_attention(w.att.get(), w.q.get(), kc, vc, ints + at.table,
                                             ints + at.offsets, ints + at.seq, ints + at.pos, shape,
                                             stream_));
  if (!(e = gemm(w.x.get(), w.att.get(), dev(host_w_.wo + L * d * d), t, dim, dim, true)).empty())
    return e;

  SPILLWAY_CUDA_TRY(kernels::rmsnorm(w.xb.get(), w.x.get(), nullptr, t,
                                     dev(host_w_.rms_ffn + L * d), dim, stream_));
  const size_t h = static_cast<size_t>(hid);
  if (!(e = gemm(w.hb.get(), w.xb.get(), dev(host_w_.w1 + L * h * d), t, dim, hid, false)).empty())
    return e;
  if (!(e = gemm(w.hb2.get(), w.xb.get(), dev(host_w_.w3 + L * h * d), t, dim, hid, false)).empty())
    return e;
  SPILLWAY_CUDA_TRY(kernels::swiglu(w.hb.get(), w.hb2.get(), static_cast<size_t>(t) * h, stream_));
  return gemm(w.x.get(), w.hb.get(), dev(host_w_.w2 + L * d * h), t, hid, dim, true);
}

std::string cuda_backend::enqueue(workspace& w, const int_layout& at, int t, int rows,
                                  int max_context) {
  int32_t* ints = w.ints.get();
  SPILLWAY_CUDA_TRY(kernels::embedding(w.x.get(), dev(host_w_.token_embedding), ints + at.tokens, t,
                                       cfg_.dim, stream_));
  for (int l = 0; l < cfg_.n_layers; ++l)
    if (std::string e = layer(w, at, l, t, max_context); !e.empty()) return e;
  if (rows == 0) return {};
  SPILLWAY_CUDA_TRY(kernels::rmsnorm(w.xb.get(), w.x.get(), ints + at.rows, rows,
                                     dev(host_w_.rms_final), cfg_.dim, stream_));
  if (std::string e = gemm(w.logits.get(), w.xb.get(), dev(host_w_.wcls), rows, cfg_.dim,
                           cfg_.vocab_size, false);
      !e.empty())
    return e;
  SPILLWAY_CUDA_TRY(
      kernels::argmax(ints + at.argmax, w.logits.get(), rows, cfg_.vocab_size, stream_));
  return {};
}

std::string cuda_backend::fetch(const workspace& w, const int_layout& at,
                                const runtime::batch_input& in, std::span<float> logits,
                                std::span<int32_t> argmax) {
  const size_t rows = in.logit_rows.size(), vocab = static_cast<size_t>(cfg_.vocab_size);
  if (rows > 0)
    SPILLWAY_CUDA_TRY(cudaMemcpyAsync(argmax.data(), w.ints.get() + at.argmax,
                                      rows * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
  for (size_t r = 0; r < rows; ++r) {
    if (in.want_logits[r] == 0) continue;
    SPILLWAY_CUDA_TRY(cudaMemcpyAsync(logits.data() + r * vocab, w.logits.get() + r * vocab,
                                      vocab * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  }
  SPILLWAY_CUDA_TRY(cudaStreamSynchronize(stream_));
  return {};
}

std::string cuda_backend::plain_step(const runtime::batch_input& in, std::span<float> logits,
                                     std::span<int32_t> argmax) {
  const int t = static_cast<int>(in.tokens.size());
  const int rows = static_cast<int>(in.logit_rows.size());
  const int_layout at = dense_layout(in);
  if (std::string e = reserve(plain_, static_cast<size_t>(t), static_cast<size_t>(rows),
                              at.table + in.block_table.size());
      !e.empty())
    return e;
  if (std::string e = upload(in, at, plain_); !e.empty()) return e;
  int max_context = 1;
  for (int32_t p : in.pos) max_context = std::max(max_context, p + 1);
  if (std::string e = enqueue(plain_, at, t, rows, max_context); !e.empty()) return e;
  return fetch(plain_, at, in, logits, argmax);
}

bool cuda_backend::graph_fits(const runtime::batch_input& in) const {
  const size_t t = in.tokens.size();
  if (graphs_ == nullptr) return false;
  const size_t cap = static_cast<size_t>(graphs_->max_tokens());
  return t <= cap && in.table_offset.size() <= cap && in.block_table.size() <= fixed_table_;
}

std::string cuda_backend::graph_step(const runtime::batch_input& in, std::span<float> logits,
                                     std::span<int32_t> argmax) {
  const int t = static_cast<int>(in.tokens.size());
  // The inputs go to the places the graphs read, before (outside) the graph.
  if (std::string e = upload(in, fixed_at_, fixed_); !e.empty()) return e;
  auto record = [&] { return enqueue(fixed_, fixed_at_, t, t, cfg_.seq_len); };
  if (!graphs_->has(t)) {
    uint8_t& warm = warm_[static_cast<size_t>(t)];
    if (warm == 0) {
      // The first step of a size runs the same calls uncaptured: kernels get loaded and cuBLAS
      // settles on its algorithms outside any capture.
      warm = 1;
      ++stats_.without;
      if (std::string e = record(); !e.empty()) return e;
      return fetch(fixed_, fixed_at_, in, logits, argmax);
    }
    if (std::string e = graphs_->capture(t, stream_, record); !e.empty()) return e;
    ++stats_.captured;
    log::debug("cuda: captured the decode step of {} sequences", t);
  }
  if (std::string e = graphs_->launch(t, stream_); !e.empty()) return e;
  ++stats_.replayed;
  return fetch(fixed_, fixed_at_, in, logits, argmax);
}

std::string cuda_backend::forward(const runtime::batch_input& in, std::span<float> logits,
                                  std::span<int32_t> argmax) {
  if (std::string e = check(in, logits, argmax); !e.empty()) return e;
  if (in.tokens.empty()) return {};
  // A decode step: every token is sampled (single decode tokens, and one-token prompts).
  const bool decode = in.logit_rows.size() == in.tokens.size();
  if (decode && graph_fits(in)) {
    const std::string e = graph_step(in, logits, argmax);
    if (e.empty()) return {};
    graphs_off(e);  // and redo the step without: it only rewrites the same KV slots
  }
  if (decode) ++stats_.without;
  return plain_step(in, logits, argmax);
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
                                                    runtime::kv_geometry kv, std::string& error,
                                                    const cuda_options& opts) {
  if (device_count() == 0) {
    error = "no CUDA device is available";
    return nullptr;
  }
  const cublas_api* blas = load_cublas(error);
  if (blas == nullptr) return nullptr;
  auto be = std::make_unique<cuda_backend>(ck, kv, *blas, opts);
  if (std::string e = be->init(ck); !e.empty()) {
    error = "CUDA backend: " + e;
    return nullptr;
  }
  return be;
}

graph_stats graph_stats_of(const runtime::backend& be) {
  const auto* cb = dynamic_cast<const cuda_backend*>(&be);
  return cb != nullptr ? cb->stats() : graph_stats{};
}

}  // namespace spillway::engine::cuda
