#include "upstream-engine/model/checkpoint.hpp"

#include <fmt/format.h>
#include <cstring>

namespace spillway::engine::model {

uint64_t model_config::weight_floats() const noexcept {
  const uint64_t d = dim, h = hidden_dim, l = n_layers, v = vocab_size, kv = kv_dim();
  const uint64_t half_head = static_cast<uint64_t>(head_size()) / 2;
  uint64_t n = v * d;                                   // token embedding
  n += l * d;                                           // rms_att
  n += l * d * d + 2 * l * kv * d;                      // wq, wk, wv
  n += l * d * d;                                       // wo
  n += l * d;                                           // rms_ffn
  n += 3 * l * h * d;                                   // w1, w2, w3
  n += d;                                               // rms_final
  n += 2 * static_cast<uint64_t>(seq_len) * half_head;  // legacy freq_cis_real / freq_cis_imag
  if (!shared_classifier) n += v * d;
  return n;
}

std::string validate_config(const model_config& c) {
  auto in = [](int v, int lo, int hi) { return v >= lo && v <= hi; };
  if (!in(c.dim, 1, 1 << 16)) return fmt::format("dim {} out of range", c.dim);
  if (!in(c.hidden_dim, 1, 1 << 18)) return fmt::format("hidden_dim {} out of range", c.hidden_dim);
  if (!in(c.n_layers, 1, 1024)) return fmt::format("n_layers {} out of range", c.n_layers);
  if (!in(c.n_heads, 1, 1024)) return fmt::format("n_heads {} out of range", c.n_heads);
  if (!in(c.n_kv_heads, 1, c.n_heads))
    return fmt::format("n_kv_heads {} out of range (n_heads {})", c.n_kv_heads, c.n_heads);
  if (!in(c.vocab_size, 259, 1 << 20))
    return fmt::format("vocab_size {} out of range (at least 259: 3 specials and 256 bytes)",
                       c.vocab_size);
  if (!in(c.seq_len, 2, 1 << 20)) return fmt::format("seq_len {} out of range", c.seq_len);
  if (c.dim % c.n_heads != 0)
    return fmt::format("dim {} is not a multiple of n_heads {}", c.dim, c.n_heads);
  if (c.n_heads % c.n_kv_heads != 0)
    return fmt::format("n_heads {} is not a multiple of n_kv_heads {}", c.n_heads, c.n_kv_heads);
  if (c.head_size() % 2 != 0) return fmt::format("head size {} is odd", c.head_size());
  return {};
}

std::optional<checkpoint> checkpoint::open(const std::string& path, std::string& error) {
  checkpoint ck;
  if (!ck.file_.open(path, error)) return std::nullopt;
  const size_t size = ck.file_.size();
  if (size < checkpoint_header_bytes) {
    error = fmt::format("{}: not a llama2.c checkpoint: {} bytes, shorter than the {}-byte header",
                        path, size, checkpoint_header_bytes);
    return std::nullopt;
  }
  int32_t h[7];
  std::memcpy(h, ck.file_.data(), sizeof h);
  model_config& c = ck.config_;
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.shared_classifier = h[5] > 0;
  c.vocab_size = h[5] == INT32_MIN ? 0 : (h[5] < 0 ? -h[5] : h[5]);
  c.seq_len = h[6];
  if (std::string why = validate_config(c); !why.empty()) {
    error = fmt::format("{}: not a valid llama2.c checkpoint: {}", path, why);
    return std::nullopt;
  }
  const uint64_t expected = checkpoint_header_bytes + c.weight_floats() * sizeof(float);
  if (size != expected) {
    error = fmt::format(
        "{}: checkpoint size mismatch: header (dim {}, hidden {}, layers {}, heads {}/{}, vocab "
        "{}{}, seq_len {}) needs {} bytes, file has {}",
        path, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size,
        c.shared_classifier ? "" : " unshared", c.seq_len, expected, size);
    return std::nullopt;
  }

  // The header is 28 bytes, so every float is 4-byte aligned in the page-aligned mapping.
  const float* p = reinterpret_cast<const float*>(ck.file_.data() + checkpoint_header_bytes);
  const uint64_t d = c.dim, hd = c.hidden_dim, l = c.n_layers, v = c.vocab_size, kv = c.kv_dim();
  weights_view& w = ck.weights_;
  w.token_embedding = p;
  p += v * d;
  w.rms_att = p;
  p += l * d;
  w.wq = p;
  p += l * d * d;
  w.wk = p;
  p += l * kv * d;
  w.wv = p;
  p += l * kv * d;
  w.wo = p;
  p += l * d * d;
  w.rms_ffn = p;
  p += l * d;
  w.w1 = p;
  p += l * hd * d;
  w.w2 = p;
  p += l * d * hd;
  w.w3 = p;
  p += l * hd * d;
  w.rms_final = p;
  p += d;
  p += static_cast<uint64_t>(c.seq_len) * (c.head_size() / 2) * 2;  // skip freq_cis
  w.wcls = c.shared_classifier ? w.token_embedding : p;
  return ck;
}

}  // namespace spillway::engine::model
