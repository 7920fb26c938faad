#pragma once
// Parameter-efficient fine-tuning state for the llama2.c model: LoRA adapters on chosen projections and prefix
// tuning (trainable per-layer keys and values of p virtual tokens). Model (model.hpp) applies both in its forward.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zeroth/random/direction.hpp"

#include "config.hpp"
#include "weights.hpp"

namespace zeroth::llama2c {

/// The seven per-layer projections LoRA may adapt (llama2.c names).
enum class Projection : int { wq, wk, wv, wo, w1, w2, w3 };
inline constexpr std::size_t kProjections = 7;
inline constexpr std::array<std::string_view, kProjections> kProjectionNames = {"wq", "wk", "wv", "wo",
                                                                                "w1", "w2", "w3"};

/// "wq" -> Projection::wq; throws std::invalid_argument naming the valid names otherwise.
inline Projection projection_from_string(std::string_view s) {
  for (std::size_t i = 0; i < kProjections; ++i)
    if (kProjectionNames[i] == s) return static_cast<Projection>(i);
  throw std::invalid_argument("zeroth: LoRA target '" + std::string(s) + "' is not one of wq, wk, wv, wo, w1, w2, w3");
}

/// {rows (out), cols (in)} of one layer's matrix of projection `p`.
inline std::pair<std::size_t, std::size_t> projection_shape(const Config& c, Projection p) {
  const std::size_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim();
  switch (p) {
    case Projection::wq:
    case Projection::wo: return {d, d};
    case Projection::wk:
    case Projection::wv: return {kv, d};
    case Projection::w1:
    case Projection::w3: return {h, d};
    case Projection::w2: return {d, h};
  }
  return {0, 0};
}

/// The weight family [n_layers x rows x cols] of projection `p`.
inline std::vector<float>& projection_family(Weights& w, Projection p) {
  std::vector<float>* f[kProjections] = {&w.wq, &w.wk, &w.wv, &w.wo, &w.w1, &w.w2, &w.w3};
  return *f[static_cast<int>(p)];
}
inline const std::vector<float>& projection_family(const Weights& w, Projection p) {
  return projection_family(const_cast<Weights&>(w), p);
}

/// Tensor name of layer `l`'s matrix of `p`, as Weights::tensors() spells it ("layers.0.attention.wq").
inline std::string projection_name(Projection p, int l) {
  const auto i = static_cast<std::size_t>(p);
  return "layers." + std::to_string(l) + (i < 4 ? ".attention." : ".feed_forward.") +
         std::string(kProjectionNames[i]);
}

/// LoRA hyper-parameters: W x + (alpha / rank) B A x on every layer's `targets`.
struct LoraOptions {
  int rank = 8;
  float alpha = 16.0f;
  std::vector<Projection> targets = {Projection::wq, Projection::wv};
  std::uint64_t seed = 0;  ///< A's initial values: Gaussian direction elements of this seed, scaled by 1/sqrt(cols)
};

/// LoRA adapters, one pair of buffers per targeted projection (empty when not targeted):
/// A [n_layers x rank x cols], B [n_layers x rows x rank], row-major. A starts small random, B at zero, so a fresh
/// adapter leaves the model's outputs exactly unchanged.
struct Lora {
  LoraOptions options;
  std::array<std::vector<float>, kProjections> a, b;

  bool enabled() const noexcept {
    for (const auto& m : a)
      if (!m.empty()) return true;
    return false;
  }
  float scale() const noexcept { return options.alpha / static_cast<float>(options.rank); }
  bool targets(Projection p) const noexcept { return !a[static_cast<std::size_t>(p)].empty(); }

  /// Fresh adapters for a model of shape `c`; throws std::invalid_argument on a bad rank, alpha or target list.
  static Lora make(const Config& c, LoraOptions o) {
    if (o.rank <= 0) throw std::invalid_argument("zeroth: LoRA rank must be positive (got " + std::to_string(o.rank) + ")");
    if (!std::isfinite(o.alpha) || o.alpha <= 0)
      throw std::invalid_argument("zeroth: LoRA alpha must be finite and positive");
    if (o.targets.empty()) throw std::invalid_argument("zeroth: LoRA needs at least one target projection");
    Lora lora;
    for (Projection p : o.targets) {
      const auto i = static_cast<std::size_t>(p);
      if (!lora.a[i].empty()) throw std::invalid_argument("zeroth: LoRA target '" +
                                                          std::string(kProjectionNames[i]) + "' is listed twice");
      const auto [rows, cols] = projection_shape(c, p);
      const std::size_t r = static_cast<std::size_t>(o.rank), layer_a = r * cols;
      if (r > std::min(rows, cols))
        throw std::invalid_argument("zeroth: LoRA rank " + std::to_string(r) + " exceeds the size of " +
                                    std::string(kProjectionNames[i]));
      lora.a[i].resize(static_cast<std::size_t>(c.n_layers) * layer_a);
      lora.b[i].assign(static_cast<std::size_t>(c.n_layers) * rows * r, 0.0f);
      const float s = 1.0f / std::sqrt(static_cast<float>(cols));
      for (int l = 0; l < c.n_layers; ++l) {
        const auto block = static_cast<std::uint32_t>(i * static_cast<std::size_t>(c.n_layers) + l);
        for (std::size_t e = 0; e < layer_a; ++e)
          lora.a[i][static_cast<std::size_t>(l) * layer_a + e] =
              s * random::direction_element(Direction::gaussian, o.seed, block, e);
      }
    }
    lora.options = std::move(o);
    return lora;
  }
};

/// Prefix tuning: `tokens` virtual tokens per layer whose keys (after RoPE, at positions 0..tokens-1) and values
/// [n_layers x tokens x kv_dim] every real token attends to. Real tokens keep their RoPE positions shifted by
/// `tokens` (the first real token sits at position `tokens`), as if the prefix were a real prompt before them: a
/// prefix holding the K/V cache of a prompt reproduces the model run on the prompt followed by the sequence.
struct Prefix {
  int tokens = 0;
  std::vector<float> keys, values;

  bool enabled() const noexcept { return tokens > 0; }
};

/// The weights in float32 with every LoRA adapter merged in: W + (alpha / rank) B A (loadable by the plain loader).
inline Weights merge_lora(const Weights& base, const Lora& lora) {
  Weights w = base.float32();
  if (!lora.enabled()) return w;
  const Config& c = base.config;
  const std::size_t r = static_cast<std::size_t>(lora.options.rank);
  const float s = lora.scale();
  for (std::size_t i = 0; i < kProjections; ++i) {
    if (lora.a[i].empty()) continue;
    const auto p = static_cast<Projection>(i);
    const auto [rows, cols] = projection_shape(c, p);
    auto& family = projection_family(w, p);
    for (int l = 0; l < c.n_layers; ++l) {
      const auto L = static_cast<std::size_t>(l);
      float* W = family.data() + L * rows * cols;
      const float* A = lora.a[i].data() + L * r * cols;
      const float* B = lora.b[i].data() + L * rows * r;
      for (std::size_t row = 0; row < rows; ++row)
        for (std::size_t col = 0; col < cols; ++col) {
          float acc = 0.0f;
          for (std::size_t k = 0; k < r; ++k) acc += B[row * r + k] * A[k * cols + col];
          W[row * cols + col] += s * acc;
        }
    }
  }
  return w;
}

}  // namespace zeroth::llama2c
