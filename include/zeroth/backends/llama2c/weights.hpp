#pragma once
// Owning storage for a llama2.c model's fp32 tensors, with named views for optimizers.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.hpp"

namespace zeroth::llama2c {

/// A named, mutable window onto one parameter tensor; `decay` is false for norm weights.
struct TensorView {
  std::string name;
  float* data;
  std::size_t size;
  std::vector<std::size_t> shape;
  bool decay;
};

/// All parameters of one model; each family is contiguous over layers in llama2.c order, matrices [out x in] row-major.
struct Weights {
  Config config;
  std::vector<float> token_embedding;  // [vocab_size x dim]
  std::vector<float> rms_att;          // [n_layers x dim]
  std::vector<float> wq;               // [n_layers x dim x dim]
  std::vector<float> wk;               // [n_layers x kv_dim x dim]
  std::vector<float> wv;               // [n_layers x kv_dim x dim]
  std::vector<float> wo;               // [n_layers x dim x dim]
  std::vector<float> rms_ffn;          // [n_layers x dim]
  std::vector<float> w1;               // [n_layers x hidden_dim x dim]
  std::vector<float> w2;               // [n_layers x dim x hidden_dim]
  std::vector<float> w3;               // [n_layers x hidden_dim x dim]
  std::vector<float> rms_final;        // [dim]
  std::vector<float> wcls;             // [vocab_size x dim], empty when the classifier is shared

  /// Zero-filled weights of the right sizes for `config` (which must be valid).
  static Weights zeros(const Config& config) {
    const std::size_t d = config.dim, h = config.hidden_dim, l = config.n_layers, v = config.vocab_size;
    const std::size_t kv = config.kv_dim();
    Weights w;
    w.config = config;
    w.token_embedding.assign(v * d, 0.f);
    w.rms_att.assign(l * d, 0.f);
    w.wq.assign(l * d * d, 0.f);
    w.wk.assign(l * kv * d, 0.f);
    w.wv.assign(l * kv * d, 0.f);
    w.wo.assign(l * d * d, 0.f);
    w.rms_ffn.assign(l * d, 0.f);
    w.w1.assign(l * h * d, 0.f);
    w.w2.assign(l * d * h, 0.f);
    w.w3.assign(l * h * d, 0.f);
    w.rms_final.assign(d, 0.f);
    if (!config.shared_classifier) w.wcls.assign(v * d, 0.f);
    return w;
  }

  /// True when every family has the size `config` calls for.
  bool has_consistent_sizes() const {
    const std::size_t d = config.dim, h = config.hidden_dim, l = config.n_layers, v = config.vocab_size;
    const std::size_t kv = config.kv_dim();
    return token_embedding.size() == v * d && rms_att.size() == l * d && wq.size() == l * d * d &&
           wk.size() == l * kv * d && wv.size() == l * kv * d && wo.size() == l * d * d && rms_ffn.size() == l * d &&
           w1.size() == l * h * d && w2.size() == l * d * h && w3.size() == l * h * d && rms_final.size() == d &&
           wcls.size() == (config.shared_classifier ? 0 : v * d);
  }

  /// The classifier matrix [vocab_size x dim]: the token embedding when shared.
  const float* classifier() const { return config.shared_classifier ? token_embedding.data() : wcls.data(); }

  /// Every tensor, per layer, named as in llama2.c's model.py ("layers.0.attention.wq").
  std::vector<TensorView> tensors() {
    const std::size_t d = config.dim, h = config.hidden_dim, v = config.vocab_size, kv = config.kv_dim();
    std::vector<TensorView> out;
    auto add = [&](std::string name, std::vector<float>& family, std::size_t index,
                   std::vector<std::size_t> shape, bool decay) {
      std::size_t n = 1;
      for (auto s : shape) n *= s;
      if (family.size() < (index + 1) * n) throw std::logic_error("zeroth: weights do not match their config");
      out.push_back({std::move(name), family.data() + index * n, n, std::move(shape), decay});
    };
    add("tok_embeddings", token_embedding, 0, {v, d}, true);
    for (int l = 0; l < config.n_layers; ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      const auto i = static_cast<std::size_t>(l);
      add(p + "attention_norm", rms_att, i, {d}, false);
      add(p + "attention.wq", wq, i, {d, d}, true);
      add(p + "attention.wk", wk, i, {kv, d}, true);
      add(p + "attention.wv", wv, i, {kv, d}, true);
      add(p + "attention.wo", wo, i, {d, d}, true);
      add(p + "ffn_norm", rms_ffn, i, {d}, false);
      add(p + "feed_forward.w1", w1, i, {h, d}, true);
      add(p + "feed_forward.w2", w2, i, {d, h}, true);
      add(p + "feed_forward.w3", w3, i, {h, d}, true);
    }
    add("norm", rms_final, 0, {d}, false);
    if (!config.shared_classifier) add("output", wcls, 0, {v, d}, true);
    return out;
  }

  friend bool operator==(const Weights&, const Weights&) = default;
};

}  // namespace zeroth::llama2c
