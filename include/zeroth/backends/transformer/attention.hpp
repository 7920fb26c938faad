#pragma once
// Scaled dot-product attention of one head of one sequence, bidirectional (BERT) or causal (Llama), with optional
// key/value rows in front of the sequence's own (prefix tuning's virtual tokens).
#include <cmath>

#include <Eigen/Core>

#include "zeroth/backends/transformer/packed_batch.hpp"

namespace zeroth::transformer {

/// out = softmax(query [keys_front; keys]^T / sqrt(d)) [values_front; values] for T queries [T x d] over
/// `front.rows() + P` positions. `causal_start` >= 0 makes query t see the front rows and positions
/// 0 .. causal_start + t only (a causal model whose first query sits at position causal_start); -1 lets every query
/// see every position. `scores` is scratch.
///   attend(q, k, v, out, -1, scores, k.topRows(0), v.topRows(0));   // bidirectional, no prefix
template <class Q, class K, class V, class O, class KF, class VF>
void attend(const Q& query, const K& keys, const V& values, O&& out, Eigen::Index causal_start, RowMatrix& scores,
            const KF& keys_front, const VF& values_front) {
  const Eigen::Index T = query.rows(), P = keys.rows(), pp = keys_front.rows();
  scores.resize(T, pp + P);
  if (pp) scores.leftCols(pp).noalias() = query * keys_front.transpose();
  scores.rightCols(P).noalias() = query * keys.transpose();
  scores /= std::sqrt(static_cast<float>(query.cols()));
  for (Eigen::Index t = 0; t < T; ++t) {
    const Eigen::Index visible = causal_start >= 0 ? pp + causal_start + t + 1 : pp + P;
    auto row = scores.row(t).head(visible).array();
    row = (row - row.maxCoeff()).exp();
    row /= row.sum();
    scores.row(t).tail(pp + P - visible).setZero();
  }
  out.noalias() = scores.rightCols(P) * values;
  if (pp) out.noalias() += scores.leftCols(pp) * values_front;
}

}  // namespace zeroth::transformer
