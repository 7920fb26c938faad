#pragma once
// Owning storage for a llama2.c model's tensors (float32; the matrices optionally in bfloat16), with named views for
// optimizers.
#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "zeroth/stores/dtype.hpp"

#include "config.hpp"

namespace zeroth::llama2c {

/// A named, mutable window onto one parameter tensor; `decay` is false for norm weights. A tensor held in bfloat16
/// (Weights::to_bfloat16) has `bf16` set and `data` null.
struct TensorView {
  std::string name;
  float* data;
  std::size_t size;
  std::vector<std::size_t> shape;
  bool decay;
  bfloat16* bf16 = nullptr;

  DType dtype() const noexcept { return bf16 ? DType::bf16 : DType::f32; }
  /// The elements, of type dtype().
  void* storage() const noexcept { return bf16 ? static_cast<void*>(bf16) : static_cast<void*>(data); }
};

/// The matrix families of Weights held in bfloat16 (same layouts as their float32 counterparts).
struct Bf16Matrices {
  std::vector<bfloat16> token_embedding, wq, wk, wv, wo, w1, w2, w3, wcls;

  friend bool operator==(const Bf16Matrices& a, const Bf16Matrices& b) {
    auto same = [](const std::vector<bfloat16>& x, const std::vector<bfloat16>& y) {
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i)
        if (x[i].bits != y[i].bits) return false;
      return true;
    };
    return same(a.token_embedding, b.token_embedding) && same(a.wq, b.wq) && same(a.wk, b.wk) && same(a.wv, b.wv) &&
           same(a.wo, b.wo) && same(a.w1, b.w1) && same(a.w2, b.w2) && same(a.w3, b.w3) && same(a.wcls, b.wcls);
  }
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
  /// Storage of the matrices (token_embedding, wq..w3, wcls): f32 in the vectors above, or bf16 in `half` (the
  /// float32 matrix vectors then empty). Norm weights are always float32.
  DType matrix_dtype = DType::f32;
  Bf16Matrices half;

  /// {float32, bfloat16} buffers of each matrix family, in declaration order.
  template <class W>
  static auto matrix_families(W& w) {
    return std::array{std::pair{&w.token_embedding, &w.half.token_embedding}, std::pair{&w.wq, &w.half.wq},
                      std::pair{&w.wk, &w.half.wk}, std::pair{&w.wv, &w.half.wv}, std::pair{&w.wo, &w.half.wo},
                      std::pair{&w.w1, &w.half.w1}, std::pair{&w.w2, &w.half.w2}, std::pair{&w.w3, &w.half.w3},
                      std::pair{&w.wcls, &w.half.wcls}};
  }

  /// Element counts of the matrix families for `config`, in matrix_families' order.
  static std::array<std::size_t, 9> matrix_sizes(const Config& config) {
    const std::size_t d = config.dim, h = config.hidden_dim, l = config.n_layers, v = config.vocab_size;
    const std::size_t kv = config.kv_dim();
    return {v * d, l * d * d, l * kv * d, l * kv * d, l * d * d, l * h * d, l * d * h, l * h * d,
            config.shared_classifier ? 0 : v * d};
  }

  /// Zero-filled weights of the right sizes for `config` (which must be valid), the matrices stored as `matrices`
  /// says (DType::f32 or DType::bf16).
  static Weights zeros(const Config& config, DType matrices = DType::f32) {
    if (matrices != DType::f32 && matrices != DType::bf16)
      throw std::invalid_argument("zeroth: llama2.c matrices are f32 or bf16, not " + std::string(to_string(matrices)));
    const std::size_t d = config.dim, l = config.n_layers;
    Weights w;
    w.config = config;
    w.matrix_dtype = matrices;
    const auto sizes = matrix_sizes(config);
    const auto f = matrix_families(w);
    for (std::size_t i = 0; i < f.size(); ++i)
      if (matrices == DType::f32)
        f[i].first->assign(sizes[i], 0.f);
      else
        f[i].second->assign(sizes[i], bfloat16{});
    w.rms_att.assign(l * d, 0.f);
    w.rms_ffn.assign(l * d, 0.f);
    w.rms_final.assign(d, 0.f);
    return w;
  }

  /// True when every family has the size `config` calls for (the matrices in the storage matrix_dtype says).
  bool has_consistent_sizes() const {
    const std::size_t d = config.dim, l = config.n_layers;
    if (matrix_dtype != DType::f32 && matrix_dtype != DType::bf16) return false;
    const bool f32 = matrix_dtype == DType::f32;
    const auto sizes = matrix_sizes(config);
    const auto f = matrix_families(*this);
    for (std::size_t i = 0; i < f.size(); ++i)
      if (f[i].first->size() != (f32 ? sizes[i] : 0) || f[i].second->size() != (f32 ? 0 : sizes[i])) return false;
    return rms_att.size() == l * d && rms_ffn.size() == l * d && rms_final.size() == d;
  }

  /// The classifier matrix [vocab_size x dim]: the token embedding when shared. Null when the matrices are bf16.
  const float* classifier() const {
    if (matrix_dtype != DType::f32) return nullptr;
    return config.shared_classifier ? token_embedding.data() : wcls.data();
  }
  /// As above in bfloat16; null when the matrices are float32.
  const bfloat16* classifier_bf16() const {
    if (matrix_dtype != DType::bf16) return nullptr;
    return config.shared_classifier ? half.token_embedding.data() : half.wcls.data();
  }

  /// Converts the matrices to bfloat16 (round to nearest even) and frees their float32 copies; norms stay float32.
  /// Does nothing when they already are bfloat16.
  void to_bfloat16() {
    if (matrix_dtype == DType::bf16) return;
    for (auto [f32, b16] : matrix_families(*this)) {
      b16->resize(f32->size());
      for (std::size_t i = 0; i < f32->size(); ++i) (*b16)[i] = zeroth::to_bfloat16((*f32)[i]);
      std::vector<float>().swap(*f32);
    }
    matrix_dtype = DType::bf16;
  }
  /// Converts bfloat16 matrices back to float32 (exactly) and frees the bfloat16 copies.
  void to_float32() {
    if (matrix_dtype == DType::f32) return;
    for (auto [f32, b16] : matrix_families(*this)) {
      f32->resize(b16->size());
      for (std::size_t i = 0; i < b16->size(); ++i) (*f32)[i] = to_float((*b16)[i]);
      std::vector<bfloat16>().swap(*b16);
    }
    matrix_dtype = DType::f32;
  }
  /// A float32 copy (for saving in the llama2.c format, which is float32).
  Weights float32() const {
    Weights w = *this;
    w.to_float32();
    return w;
  }


  /// Every tensor, per layer, named as in llama2.c's model.py ("layers.0.attention.wq"); after to_bfloat16 the
  /// matrices are bf16 views.
  std::vector<TensorView> tensors() {
    const std::size_t d = config.dim, h = config.hidden_dim, v = config.vocab_size, kv = config.kv_dim();
    std::vector<TensorView> out;
    const bool b16 = matrix_dtype == DType::bf16;
    auto add = [&](std::string name, std::vector<float>& family, std::vector<bfloat16>* half_family,
                   std::size_t index, std::vector<std::size_t> shape, bool decay) {
      std::size_t n = 1;
      for (auto s : shape) n *= s;
      const bool in_bf16 = b16 && half_family;
      if ((in_bf16 ? half_family->size() : family.size()) < (index + 1) * n)
        throw std::logic_error("zeroth: weights do not match their config");
      out.push_back({std::move(name), in_bf16 ? nullptr : family.data() + index * n, n, std::move(shape), decay,
                     in_bf16 ? half_family->data() + index * n : nullptr});
    };
    add("tok_embeddings", token_embedding, &half.token_embedding, 0, {v, d}, true);
    for (int l = 0; l < config.n_layers; ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      const auto i = static_cast<std::size_t>(l);
      add(p + "attention_norm", rms_att, nullptr, i, {d}, false);
      add(p + "attention.wq", wq, &half.wq, i, {d, d}, true);
      add(p + "attention.wk", wk, &half.wk, i, {kv, d}, true);
      add(p + "attention.wv", wv, &half.wv, i, {kv, d}, true);
      add(p + "attention.wo", wo, &half.wo, i, {d, d}, true);
      add(p + "ffn_norm", rms_ffn, nullptr, i, {d}, false);
      add(p + "feed_forward.w1", w1, &half.w1, i, {h, d}, true);
      add(p + "feed_forward.w2", w2, &half.w2, i, {d, h}, true);
      add(p + "feed_forward.w3", w3, &half.w3, i, {h, d}, true);
    }
    add("norm", rms_final, nullptr, 0, {d}, false);
    if (!config.shared_classifier) add("output", wcls, &half.wcls, 0, {v, d}, true);
    return out;
  }

  friend bool operator==(const Weights&, const Weights&) = default;
};

}  // namespace zeroth::llama2c
