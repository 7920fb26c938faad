#pragma once
// Linear layers over packed rows: weights in float32 or bfloat16 (converted to float32 just before their product),
// optional bias, optional LoRA adapter, and the activations the supported architectures use.
#include <cmath>
#include <cstddef>
#include <vector>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>  // vectorised erf

#include "zeroth/backends/transformer/packed_batch.hpp"
#include "zeroth/stores/dtype.hpp"

namespace zeroth::transformer {

/// A [rows x cols] row-major weight matrix held in float32 or in bfloat16 (exactly one of the pointers is set).
struct MatrixRef {
  const float* f32 = nullptr;
  const bfloat16* bf16 = nullptr;
  Eigen::Index rows = 0, cols = 0;

  /// The matrix in float32: the buffer itself, or the bfloat16 one converted into `scratch` (valid until the next
  /// call with the same scratch).
  Eigen::Map<const RowMatrix> float32(std::vector<float>& scratch) const {
    if (f32) return {f32, rows, cols};
    const auto n = static_cast<std::size_t>(rows * cols);
    if (scratch.size() < n) scratch.resize(n);
    for (std::size_t i = 0; i < n; ++i) scratch[i] = to_float(bf16[i]);
    return {scratch.data(), rows, cols};
  }
};

/// A LoRA adapter of one weight matrix: A [rank x cols], B [rows x rank], adding scale B A x (scale = alpha / rank).
struct LoraRef {
  const float* a = nullptr;
  const float* b = nullptr;
  Eigen::Index rank = 0;
  float scale = 0;

  explicit operator bool() const noexcept { return a != nullptr; }
};

/// out = in W^T (+ bias) (+ LoRA), for packed rows `in` [n x cols]; `scratch` holds a bfloat16 W in float32 and
/// `low` LoRA's [n x rank] intermediate.
inline void linear(RowMatrix& out, const RowMatrix& in, const MatrixRef& w, const float* bias, const LoraRef& lora,
                   std::vector<float>& scratch, RowMatrix& low) {
  out.noalias() = in * w.float32(scratch).transpose();
  if (bias) out.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias, w.rows);
  if (!lora) return;
  low.noalias() = in * Eigen::Map<const RowMatrix>(lora.a, lora.rank, w.cols).transpose();
  low *= lora.scale;
  out.noalias() += low * Eigen::Map<const RowMatrix>(lora.b, w.rows, lora.rank).transpose();
}

/// out += in W^T (+ LoRA): a residual projection without bias.
inline void add_linear(RowMatrix& out, const RowMatrix& in, const MatrixRef& w, const LoraRef& lora,
                       std::vector<float>& scratch, RowMatrix& low) {
  out.noalias() += in * w.float32(scratch).transpose();
  if (!lora) return;
  low.noalias() = in * Eigen::Map<const RowMatrix>(lora.a, lora.rank, w.cols).transpose();
  low *= lora.scale;
  out.noalias() += low * Eigen::Map<const RowMatrix>(lora.b, w.rows, lora.rank).transpose();
}

/// GELU in its exact form, x/2 (1 + erf(x / sqrt 2)) (BERT's "gelu"), elementwise in place.
inline void gelu_erf(RowMatrix& x) {
  const float r = 0.70710678118654752f;
  x.array() = 0.5f * x.array() * (1.0f + (x.array() * r).erf());
}

}  // namespace zeroth::transformer
