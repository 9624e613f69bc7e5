#include "upstream-engine/reference/cpu_backend.hpp"

#include <fmt/format.h>
#include <cmath>
#include <cstring>

#include "upstream-engine/reference/cpu_ops.hpp"

namespace spillway::engine::reference {

cpu_backend::cpu_backend(const model::checkpoint& ck, runtime::kv_geometry kv, int threads,
                         std::chrono::microseconds max_spin)
    : cfg_(ck.config()), w_(ck.weights(), ck.config()), kv_(kv), pool_(threads, max_spin) {
  const size_t cache = static_cast<size_t>(cfg_.n_layers) * kv_.num_blocks * kv_.block_size *
                       static_cast<size_t>(cfg_.kv_dim());
  k_cache_.assign(cache, 0.0f);
  v_cache_.assign(cache, 0.0f);
  const int hs = cfg_.head_size(), half = hs / 2;
  rope_.resize(static_cast<size_t>(cfg_.seq_len) * hs);
  for (int pos = 0; pos < cfg_.seq_len; ++pos) {
    for (int k = 0; k < half; ++k) {
      const double freq = 1.0 / std::pow(10000.0, 2.0 * k / hs);
      rope_[static_cast<size_t>(pos) * hs + k] = static_cast<float>(std::cos(pos * freq));
      rope_[static_cast<size_t>(pos) * hs + half + k] = static_cast<float>(std::sin(pos * freq));
    }
  }
}

size_t cpu_backend::cache_offset(int layer, int block, int slot) const {
  return ((static_cast<size_t>(layer) * kv_.num_blocks + block) * kv_.block_size + slot) *
         static_cast<size_t>(cfg_.kv_dim());
}

const float* cpu_backend::k_slot(int layer, int block, int slot) const {
  return k_cache_.data() + cache_offset(layer, block, slot);
}

std::string cpu_backend::check(const runtime::batch_input& in, std::span<float> logits,
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
    // Every block this token reads or writes must be mapped (tables are prefix-complete).
    if (entry >= in.block_table.size()) return "block table too short";
  }
  for (int32_t b : in.block_table)
    if (b < 0 || b >= kv_.num_blocks) return fmt::format("bad block id {}", b);
  for (int32_t r : in.logit_rows)
    if (r < 0 || static_cast<size_t>(r) >= t) return "bad logit row";
  return {};
}

std::string cpu_backend::forward(const runtime::batch_input& in, std::span<float> logits,
                                 std::span<int32_t> argmax_out) {
  if (std::string err = check(in, logits, argmax_out); !err.empty()) return err;
  const size_t t = in.tokens.size();
  const size_t dim = static_cast<size_t>(cfg_.dim), kvd = static_cast<size_t>(cfg_.kv_dim());
  const size_t hid = static_cast<size_t>(cfg_.hidden_dim);
  x_.resize(t * dim);
  xb_.resize(t * dim);
  xb2_.resize(t * dim);
  q_.resize(t * dim);
  att_.resize(t * dim);
  k_.resize(t * kvd);
  v_.resize(t * kvd);
  hb_.resize(t * hid);
  hb2_.resize(t * hid);
  for (size_t i = 0; i < t; ++i)
    std::memcpy(&x_[i * dim], w_.token_embedding + static_cast<size_t>(in.tokens[i]) * dim,
                dim * sizeof(float));
  for (int l = 0; l < cfg_.n_layers; ++l) layer(l, in);

  const size_t rows = in.logit_rows.size();
  const size_t vocab = static_cast<size_t>(cfg_.vocab_size);
  for (size_t r = 0; r < rows; ++r)
    rmsnorm(&xb_[r * dim], &x_[static_cast<size_t>(in.logit_rows[r]) * dim], w_.rms_final,
            cfg_.dim);
  matmul(logits.data(), xb_.data(), w_.wcls, static_cast<int>(rows), pool_);
  for (size_t r = 0; r < rows; ++r) argmax_out[r] = argmax(&logits[r * vocab], cfg_.vocab_size);
  return {};
}

void cpu_backend::layer(int l, const runtime::batch_input& in) {
  const int t = static_cast<int>(in.tokens.size());
  const int dim = cfg_.dim, kvd = cfg_.kv_dim(), hid = cfg_.hidden_dim, hs = cfg_.head_size();
  const size_t L = static_cast<size_t>(l);
  const size_t d = static_cast<size_t>(dim);

  for (int i = 0; i < t; ++i) rmsnorm(&xb_[i * d], &x_[i * d], w_.rms_att + L * d, dim);
  const matmul_part qkv[] = {
      {q_.data(), w_.wq.layer(l)}, {k_.data(), w_.wk.layer(l)}, {v_.data(), w_.wv.layer(l)}};
  matmul_many(qkv, xb_.data(), t, pool_);
  for (int i = 0; i < t; ++i) {
    const float* cs = &rope_[static_cast<size_t>(in.pos[i]) * hs];
    rope(&q_[i * d], dim, hs, cs);
    rope(&k_[static_cast<size_t>(i) * kvd], kvd, hs, cs);
    const int p = in.pos[i];
    const int block = in.block_table[static_cast<size_t>(
        in.table_offset[static_cast<size_t>(in.seq[i])] + p / kv_.block_size)];
    const size_t off = cache_offset(l, block, p % kv_.block_size);
    std::memcpy(&k_cache_[off], &k_[static_cast<size_t>(i) * kvd], kvd * sizeof(float));
    std::memcpy(&v_cache_[off], &v_[static_cast<size_t>(i) * kvd], kvd * sizeof(float));
  }
  attention(l, in);
  matmul(xb2_.data(), att_.data(), w_.wo.layer(l), t, pool_);
  for (size_t i = 0; i < static_cast<size_t>(t) * d; ++i) x_[i] += xb2_[i];

  for (int i = 0; i < t; ++i) rmsnorm(&xb_[i * d], &x_[i * d], w_.rms_ffn + L * d, dim);
  const size_t h = static_cast<size_t>(hid);
  const matmul_part ffn[] = {{hb_.data(), w_.w1.layer(l)}, {hb2_.data(), w_.w3.layer(l)}};
  matmul_many(ffn, xb_.data(), t, pool_);
  pool_.parallel_for(static_cast<size_t>(t), 1, [&](size_t b, size_t e) {
    swiglu(&hb_[b * h], &hb2_[b * h], static_cast<int>((e - b) * h));
  });
  matmul(xb2_.data(), hb_.data(), w_.w2.layer(l), t, pool_);
  for (size_t i = 0; i < static_cast<size_t>(t) * d; ++i) x_[i] += xb2_[i];
}

void cpu_backend::attention(int l, const runtime::batch_input& in) {
  const int hs = cfg_.head_size(), heads = cfg_.n_heads;
  const int kv_mul = cfg_.n_heads / cfg_.n_kv_heads;
  const paged_kv kv{k_cache_.data() + cache_offset(l, 0, 0),
                    v_cache_.data() + cache_offset(l, 0, 0), kv_.block_size, cfg_.kv_dim()};
  const size_t d = static_cast<size_t>(cfg_.dim);
  // One task per token, all its heads reading each K/V row once, when there are tokens enough to
  // keep every thread busy; else one per head. The bits are the same either way.
  const size_t t = in.tokens.size();
  const int per_task = t >= static_cast<size_t>(pool_.size()) ? heads : 1;
  const size_t tasks = t * static_cast<size_t>(heads / per_task);
  pool_.parallel_for(tasks, 1, [&](size_t b, size_t e) {
    std::vector<float> scores(static_cast<size_t>(per_task) * static_cast<size_t>(cfg_.seq_len));
    for (size_t task = b; task < e; ++task) {
      const size_t i = task * static_cast<size_t>(per_task) / static_cast<size_t>(heads);
      const int h =
          static_cast<int>(task * static_cast<size_t>(per_task) % static_cast<size_t>(heads));
      const int32_t* table =
          &in.block_table[static_cast<size_t>(in.table_offset[static_cast<size_t>(in.seq[i])])];
      const size_t at = i * d + static_cast<size_t>(h) * hs;
      attend_heads(&att_[at], &q_[at], kv, table, in.pos[i], hs, h, per_task, kv_mul,
                   scores.data());
    }
  });
}

}  // namespace spillway::engine::reference
