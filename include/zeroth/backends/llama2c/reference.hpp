#pragma once
// A naive one-token-at-a-time forward pass with a KV cache, transcribed from llama2.c's run.c; for tests only.
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "weights.hpp"

namespace zeroth::llama2c::reference {

namespace detail {

inline void rmsnorm(float* o, const float* x, const float* w, int n) {
  float ss = 0.0f;
  for (int j = 0; j < n; j++) ss += x[j] * x[j];
  ss /= static_cast<float>(n);
  ss += 1e-5f;
  ss = 1.0f / std::sqrt(ss);
  for (int j = 0; j < n; j++) o[j] = w[j] * (ss * x[j]);
}

inline void softmax(float* x, int size) {
  float max_val = x[0];
  for (int i = 1; i < size; i++)
    if (x[i] > max_val) max_val = x[i];
  float sum = 0.0f;
  for (int i = 0; i < size; i++) {
    x[i] = std::exp(x[i] - max_val);
    sum += x[i];
  }
  for (int i = 0; i < size; i++) x[i] /= sum;
}

// xout (d) = W (d x n) @ x (n)
inline void matmul(float* xout, const float* x, const float* w, int n, int d) {
  for (int i = 0; i < d; i++) {
    float val = 0.0f;
    for (int j = 0; j < n; j++) val += w[static_cast<std::size_t>(i) * n + j] * x[j];
    xout[i] = val;
  }
}

}  // namespace detail

/// Decoding state for one sequence: activations and the key/value cache of every layer.
struct State {
  explicit State(const Config& c)
      : x(c.dim), xb(c.dim), xb2(c.dim), hb(c.hidden_dim), hb2(c.hidden_dim), q(c.dim), att(c.seq_len),
        logits(c.vocab_size),
        key_cache(static_cast<std::size_t>(c.n_layers) * c.seq_len * c.kv_dim()),
        value_cache(key_cache.size()) {}
  std::vector<float> x, xb, xb2, hb, hb2, q, att, logits, key_cache, value_cache;
};

/// Logits for `token` at position `pos`, given that positions 0..pos-1 were already fed through `s`.
inline const std::vector<float>& forward(const Weights& w, State& s, int token, int pos) {
  const Config& p = w.config;
  if (w.matrix_dtype != DType::f32)
    throw std::invalid_argument("zeroth: the reference forward needs float32 weights (see Weights::float32)");
  if (token < 0 || token >= p.vocab_size || pos < 0 || pos >= p.seq_len)
    throw std::out_of_range("zeroth: token or position out of range");
  const int dim = p.dim, kv_dim = p.kv_dim(), kv_mul = p.n_heads / p.n_kv_heads, hidden_dim = p.hidden_dim;
  const int head_size = p.head_size();
  float* x = s.x.data();
  const float* content_row = w.token_embedding.data() + static_cast<std::size_t>(token) * dim;
  for (int i = 0; i < dim; i++) x[i] = content_row[i];

  for (int l = 0; l < p.n_layers; l++) {
    const std::size_t L = static_cast<std::size_t>(l);
    detail::rmsnorm(s.xb.data(), x, w.rms_att.data() + L * dim, dim);
    const std::size_t loff = L * p.seq_len * kv_dim;
    float* k = s.key_cache.data() + loff + static_cast<std::size_t>(pos) * kv_dim;
    float* v = s.value_cache.data() + loff + static_cast<std::size_t>(pos) * kv_dim;
    detail::matmul(s.q.data(), s.xb.data(), w.wq.data() + L * dim * dim, dim, dim);
    detail::matmul(k, s.xb.data(), w.wk.data() + L * dim * kv_dim, dim, kv_dim);
    detail::matmul(v, s.xb.data(), w.wv.data() + L * dim * kv_dim, dim, kv_dim);

    for (int i = 0; i < dim; i += 2) {  // RoPE: rotate each (even, odd) pair
      const int head_dim = i % head_size;
      const float freq = 1.0f / std::pow(10000.0f, head_dim / static_cast<float>(head_size));
      const float val = static_cast<float>(pos) * freq;
      const float fcr = std::cos(val), fci = std::sin(val);
      const int rotn = i < kv_dim ? 2 : 1;
      for (int r = 0; r < rotn; r++) {
        float* vec = r == 0 ? s.q.data() : k;
        const float v0 = vec[i], v1 = vec[i + 1];
        vec[i] = v0 * fcr - v1 * fci;
        vec[i + 1] = v0 * fci + v1 * fcr;
      }
    }

    for (int h = 0; h < p.n_heads; h++) {
      const float* q = s.q.data() + h * head_size;
      float* att = s.att.data();
      for (int t = 0; t <= pos; t++) {
        const float* kt = s.key_cache.data() + loff + static_cast<std::size_t>(t) * kv_dim + (h / kv_mul) * head_size;
        float score = 0.0f;
        for (int i = 0; i < head_size; i++) score += q[i] * kt[i];
        att[t] = score / std::sqrt(static_cast<float>(head_size));
      }
      detail::softmax(att, pos + 1);
      float* xb = s.xb.data() + h * head_size;
      for (int i = 0; i < head_size; i++) xb[i] = 0.0f;
      for (int t = 0; t <= pos; t++) {
        const float* vt =
            s.value_cache.data() + loff + static_cast<std::size_t>(t) * kv_dim + (h / kv_mul) * head_size;
        for (int i = 0; i < head_size; i++) xb[i] += att[t] * vt[i];
      }
    }
    detail::matmul(s.xb2.data(), s.xb.data(), w.wo.data() + L * dim * dim, dim, dim);
    for (int i = 0; i < dim; i++) x[i] += s.xb2[i];

    detail::rmsnorm(s.xb.data(), x, w.rms_ffn.data() + L * dim, dim);
    detail::matmul(s.hb.data(), s.xb.data(), w.w1.data() + L * dim * hidden_dim, dim, hidden_dim);
    detail::matmul(s.hb2.data(), s.xb.data(), w.w3.data() + L * dim * hidden_dim, dim, hidden_dim);
    for (int i = 0; i < hidden_dim; i++) {
      float val = s.hb[i];
      val *= 1.0f / (1.0f + std::exp(-val));  // SiLU
      s.hb[i] = val * s.hb2[i];
    }
    detail::matmul(s.xb.data(), s.hb.data(), w.w2.data() + L * dim * hidden_dim, hidden_dim, dim);
    for (int i = 0; i < dim; i++) x[i] += s.xb[i];
  }
  detail::rmsnorm(x, x, w.rms_final.data(), dim);
  detail::matmul(s.logits.data(), x, w.classifier(), dim, p.vocab_size);
  return s.logits;
}

/// Logits at every position of `tokens`, one row per position.
inline std::vector<std::vector<float>> logits(const Weights& w, const std::vector<int>& tokens) {
  State s(w.config);
  std::vector<std::vector<float>> out;
  for (std::size_t pos = 0; pos < tokens.size(); ++pos) out.push_back(forward(w, s, tokens[pos], static_cast<int>(pos)));
  return out;
}

}  // namespace zeroth::llama2c::reference
