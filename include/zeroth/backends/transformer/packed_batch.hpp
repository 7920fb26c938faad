#pragma once
// Ragged batches packed into one matrix (sequence after sequence, one row per token), split into groups whose
// boundaries depend only on the sequence lengths: every group's products then have the same shapes, so the same bits,
// whatever the number of OpenMP threads that run them.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <span>
#include <vector>

#include <Eigen/Core>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace zeroth::transformer {

/// Row-major float matrix: one row per token.
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Tokens a group aims at: enough rows for efficient products, small enough that a batch of a few hundred tokens
/// gives every core a group. Never a function of the thread count (that is what keeps the bits fixed).
inline constexpr Eigen::Index kGroupTokens = 256;

namespace detail {
inline std::atomic<Eigen::Index>& group_tokens_setting() {
  static std::atomic<Eigen::Index> tokens{kGroupTokens};
  return tokens;
}
}  // namespace detail

/// The tokens a group aims at (kGroupTokens unless set_group_tokens changed it).
inline Eigen::Index group_tokens() noexcept { return detail::group_tokens_setting().load(std::memory_order_relaxed); }
/// Sets the tokens a group aims at, for the whole process. 0 puts every sequence in a group of its own: each
/// sequence's products then have its own shape whatever else is in the batch, so a sequence's outputs (and an
/// example's loss) are the same bits in any batch: batch-invariance, what a data-parallel run needs to give the
/// single-process bits (zeroth/distributed), at the cost of smaller products.
inline void set_group_tokens(Eigen::Index tokens) { detail::group_tokens_setting().store(tokens); }

/// Where each sequence of a ragged batch starts in the packed order: offset[b] .. offset[b + 1].
struct PackedBatch {
  std::vector<Eigen::Index> offset{0};

  /// Offsets of sequences with these lengths.
  template <class Lengths>
  static PackedBatch of(const Lengths& lengths) {
    PackedBatch p;
    for (auto n : lengths) p.offset.push_back(p.offset.back() + static_cast<Eigen::Index>(n));
    return p;
  }
  std::size_t sequences() const noexcept { return offset.size() - 1; }
  Eigen::Index rows() const noexcept { return offset.back(); }
  Eigen::Index length(std::size_t b) const noexcept { return offset[b + 1] - offset[b]; }

  /// First sequence of each group, then sequences(): contiguous groups of about group_tokens() tokens each (a longer
  /// sequence is a group of its own), fixed by the lengths alone.
  std::vector<std::size_t> groups() const {
    std::vector<std::size_t> first{0};
    const std::size_t B = sequences();
    const Eigen::Index tokens = group_tokens();
    for (std::size_t b = 0; b < B; ++b)
      if (b > first.back() && offset[b + 1] - offset[first.back()] > tokens) first.push_back(b);
    if (B > 0) first.push_back(B);
    return first;
  }
};

/// Runs `visit(b0, b1)` for every group [b0, b1) of `batch` (see PackedBatch::groups), in parallel over OpenMP
/// threads. Always inside a parallel region, so that Eigen never splits a product over threads itself (a product
/// split by Eigen sums in an order that depends on the thread count). `visit` must not throw.
template <class Visit>
void for_each_group(const PackedBatch& batch, Visit&& visit) {
  const std::vector<std::size_t> first = batch.groups();
  const int groups = static_cast<int>(first.size()) - 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
  for (int g = 0; g < groups; ++g) visit(first[static_cast<std::size_t>(g)], first[static_cast<std::size_t>(g) + 1]);
}

}  // namespace zeroth::transformer
