#pragma once
// An owned parameter tensor of a model, stored in float32 or (matrices) bfloat16, that becomes a zeroth block.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "zeroth/backends/transformer/linear.hpp"
#include "zeroth/stores/block.hpp"
#include "zeroth/stores/dtype.hpp"

namespace zeroth::transformer {

/// A named tensor owning its elements: `f32` holds them, or `bf16` after to_bfloat16() (the other is then empty).
struct Parameter {
  std::string name;
  std::vector<std::size_t> shape;
  bool decay = true;  ///< weight decay applies (false for biases and norms, as MeZO)
  std::vector<float> f32;
  std::vector<bfloat16> bf16;

  /// A zero-filled float32 tensor.
  static Parameter zeros(std::string name, std::vector<std::size_t> shape, bool decay) {
    Parameter p{std::move(name), std::move(shape), decay, {}, {}};
    p.f32.assign(p.numel(), 0.0f);
    return p;
  }
  std::size_t numel() const noexcept {
    std::size_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
  DType dtype() const noexcept { return bf16.empty() || !f32.empty() ? DType::f32 : DType::bf16; }

  /// Rounds to bfloat16 (to nearest even) and frees the float32 copy.
  void to_bfloat16() {
    if (dtype() == DType::bf16) return;
    bf16.resize(f32.size());
    for (std::size_t i = 0; i < f32.size(); ++i) bf16[i] = zeroth::to_bfloat16(f32[i]);
    std::vector<float>().swap(f32);
  }
  /// The elements in float32 (a copy; exact from bfloat16).
  std::vector<float> float32() const {
    if (dtype() == DType::f32) return f32;
    std::vector<float> out(bf16.size());
    for (std::size_t i = 0; i < bf16.size(); ++i) out[i] = to_float(bf16[i]);
    return out;
  }
  /// Element (row, col) of a matrix in float32.
  float at(auto row, auto col) const {
    const auto i = static_cast<std::size_t>(row) * shape.back() + static_cast<std::size_t>(col);
    return f32.empty() ? to_float(bf16[i]) : f32[i];
  }
  /// As a [rows x cols] matrix for transformer::linear (a vector is one row).
  MatrixRef matrix() const {
    const auto rows = static_cast<Eigen::Index>(shape.size() == 2 ? shape[0] : 1);
    const auto cols = static_cast<Eigen::Index>(shape.empty() ? 0 : shape.back());
    if (dtype() == DType::f32) return {f32.data(), nullptr, rows, cols};
    return {nullptr, bf16.data(), rows, cols};
  }
  /// A zeroth block over the elements (trainable as given).
  Block block(bool trainable = true) {
    void* data = dtype() == DType::f32 ? static_cast<void*>(f32.data()) : static_cast<void*>(bf16.data());
    return Block{name, data, numel(), dtype(), {.trainable = trainable, .decay = decay}, shape, {}};
  }
};

}  // namespace zeroth::transformer
