#pragma once
// Row-wise normalisations of packed rows: RMSNorm (Llama) and LayerNorm (BERT).
#include <cmath>

#include <Eigen/Core>

#include "zeroth/backends/transformer/packed_batch.hpp"

namespace zeroth::transformer {

/// out[r] = weight * x[r] / sqrt(mean(x[r]^2) + eps).
inline void rms_norm(RowMatrix& out, const RowMatrix& x, const float* weight, float eps = 1e-5f) {
  const Eigen::Index dim = x.cols();
  Eigen::Map<const Eigen::RowVectorXf> w(weight, dim);
  out.resize(x.rows(), dim);
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const float scale = 1.0f / std::sqrt(x.row(r).squaredNorm() / static_cast<float>(dim) + eps);
    out.row(r) = w.cwiseProduct(scale * x.row(r));
  }
}

/// x[r] = weight * (x[r] - mean) / sqrt(var + eps) + bias, in place (biased variance, as torch.nn.LayerNorm).
inline void layer_norm(RowMatrix& x, const float* weight, const float* bias, float eps) {
  const Eigen::Index dim = x.cols();
  Eigen::Map<const Eigen::RowVectorXf> w(weight, dim), b(bias, dim);
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    auto row = x.row(r);
    const float mean = row.sum() / static_cast<float>(dim);
    row.array() -= mean;
    const float inv = 1.0f / std::sqrt(row.squaredNorm() / static_cast<float>(dim) + eps);
    row = (row.array() * inv * w.array() + b.array()).matrix();
  }
}

}  // namespace zeroth::transformer
