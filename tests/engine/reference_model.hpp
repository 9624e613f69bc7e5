// An independent, plain llama2 forward pass in double precision (one token at a time, contiguous
// KV cache, straight loops from the llama2.c run.c description), used as the oracle for the
// engine's backends.
#pragma once

#include <cmath>
#include <vector>

#include "upstream-engine/model/checkpoint.hpp"

namespace spillway::engine::test {

class reference_model {
 public:
  explicit reference_model(const model::checkpoint& ck) : c_(ck.config()), w_(ck.weights()) {
    const size_t n = static_cast<size_t>(c_.n_layers) * c_.seq_len * c_.kv_dim();
    key_.assign(n, 0.0);
    value_.assign(n, 0.0);
  }

  /// Logits after feeding `token` at position `pos` (positions must be fed in order from 0).
  std::vector<double> forward(int token, int pos) {
    const int dim = c_.dim, hs = c_.head_size(), kvd = c_.kv_dim(), hid = c_.hidden_dim;
    std::vector<double> x(dim), xb(dim), q(dim), k(kvd), v(kvd), att(dim), h1(hid), h3(hid), o(dim);
    for (int i = 0; i < dim; ++i) x[i] = w_.token_embedding[static_cast<size_t>(token) * dim + i];
    for (int l = 0; l < c_.n_layers; ++l) {
      norm(xb, x, w_.rms_att + static_cast<size_t>(l) * dim);
      project(q, xb, w_.wq + static_cast<size_t>(l) * dim * dim);
      project(k, xb, w_.wk + static_cast<size_t>(l) * kvd * dim);
      project(v, xb, w_.wv + static_cast<size_t>(l) * kvd * dim);
      rotate(q, pos, hs);
      rotate(k, pos, hs);
      double* kc = &key_[(static_cast<size_t>(l) * c_.seq_len + pos) * kvd];
      double* vc = &value_[(static_cast<size_t>(l) * c_.seq_len + pos) * kvd];
      for (int i = 0; i < kvd; ++i) kc[i] = k[i], vc[i] = v[i];
      const int group = c_.n_heads / c_.n_kv_heads;
      for (int h = 0; h < c_.n_heads; ++h) {
        const int kh = h / group;
        std::vector<double> s(static_cast<size_t>(pos) + 1);
        double mx = -1e300, sum = 0.0;
        for (int p = 0; p <= pos; ++p) {
          const double* kp = &key_[(static_cast<size_t>(l) * c_.seq_len + p) * kvd + kh * hs];
          double d = 0.0;
          for (int i = 0; i < hs; ++i) d += q[h * hs + i] * kp[i];
          s[p] = d / std::sqrt(static_cast<double>(hs));
          mx = std::max(mx, s[p]);
        }
        for (int p = 0; p <= pos; ++p) sum += (s[p] = std::exp(s[p] - mx));
        for (int i = 0; i < hs; ++i) {
          double acc = 0.0;
          for (int p = 0; p <= pos; ++p)
            acc +=
                s[p] / sum * value_[(static_cast<size_t>(l) * c_.seq_len + p) * kvd + kh * hs + i];
          att[h * hs + i] = acc;
        }
      }
      project(o, att, w_.wo + static_cast<size_t>(l) * dim * dim);
      for (int i = 0; i < dim; ++i) x[i] += o[i];
      norm(xb, x, w_.rms_ffn + static_cast<size_t>(l) * dim);
      project(h1, xb, w_.w1 + static_cast<size_t>(l) * hid * dim);
      project(h3, xb, w_.w3 + static_cast<size_t>(l) * hid * dim);
      for (int i = 0; i < hid; ++i) h1[i] = h1[i] / (1.0 + std::exp(-h1[i])) * h3[i];
      project(o, h1, w_.w2 + static_cast<size_t>(l) * dim * hid);
      for (int i = 0; i < dim; ++i) x[i] += o[i];
    }
    norm(xb, x, w_.rms_final);
    std::vector<double> logits(static_cast<size_t>(c_.vocab_size));
    project(logits, xb, w_.wcls);
    return logits;
  }

 private:
  void norm(std::vector<double>& out, const std::vector<double>& x, const float* w) const {
    double ss = 0.0;
    for (double v : x) ss += v * v;
    const double r = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + 1e-5);
    for (size_t i = 0; i < x.size(); ++i) out[i] = w[i] * (x[i] * r);
  }
  // out = W x, W row-major [out][in].
  static void project(std::vector<double>& out, const std::vector<double>& x, const float* w) {
    for (size_t i = 0; i < out.size(); ++i) {
      double acc = 0.0;
      for (size_t j = 0; j < x.size(); ++j) acc += static_cast<double>(w[i * x.size() + j]) * x[j];
      out[i] = acc;
    }
  }
  static void rotate(std::vector<double>& v, int pos, int hs) {
    for (size_t i = 0; i < v.size(); i += 2) {
      const int head_dim = static_cast<int>(i % static_cast<size_t>(hs));
      const double angle = pos / std::pow(10000.0, static_cast<double>(head_dim) / hs);
      const double a = v[i], b = v[i + 1];
      v[i] = a * std::cos(angle) - b * std::sin(angle);
      v[i + 1] = a * std::sin(angle) + b * std::cos(angle);
    }
  }

  model::model_config c_;
  model::weights_view w_;
  std::vector<double> key_, value_;
};

}  // namespace spillway::engine::test
