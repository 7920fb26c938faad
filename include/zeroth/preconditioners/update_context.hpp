#pragma once
// What an update rule sees at the end of a step: the directions, where the parameters stand, the estimate.
#include <cstdint>
#include <span>

#include "zeroth/random/direction.hpp"
#include "zeroth/stores/buffer_store.hpp"
#include "zeroth/sweeps/mask.hpp"
#include "zeroth/sweeps/snapshot.hpp"

namespace zeroth {

/// The parameters currently hold x0 + sum_k offset[k] z_k (or x0 is in the snapshot when `from_snapshot`);
/// the rule must move them to the updated x1 in one fused sweep. Store and Snap are BufferStore and Snapshot on the
/// host (UpdateContext); zeroth/cuda/fused.cuh derives gpu::UpdateContext over a DeviceStore from the same fields.
template <class Store, class Snap>
struct BasicUpdateContext {
  Store& store;
  Snap* snapshot;
  Direction direction;
  std::span<const std::uint64_t> seeds;  ///< one per direction
  std::span<const double> norms;         ///< scale of each z_k (sqrt(d)/|g| for sphere directions, else 1)
  std::span<const double> offset;        ///< current displacement along z_k (norms included)
  std::span<const double> g;             ///< projected gradients g_1..g_q, then any extra scalars of the estimator
  double learning_rate;
  double weight_decay;
  bool from_snapshot;
  Rounding rounding;
  std::uint64_t rounding_seed;
  int threads;
  std::span<double> scratch_a;  ///< q doubles each, free for the rule
  std::span<double> scratch_b;
  /// The estimator's masks, which every sweep of the step applies to z (pass them on to the sweep plans):
  std::span<const std::uint8_t> active{};  ///< per direction and block (block-wise estimators); empty: all blocks
  ElementMask mask{};                      ///< per element (sparse estimators); empty: all elements
  /// g-hat = sum_k g_k z_k rather than the average (1/q) sum_k: directions over disjoint blocks, each its own estimate.
  bool sum_terms = false;
  std::uint64_t step = 0;  ///< the step being updated (0-based; Run::step())

  /// A direction's term v = g_k n_k weighted into g-hat: v / q, or v itself with sum_terms.
  double weighted(double v) const noexcept { return sum_terms ? v : v / static_cast<double>(seeds.size()); }
};

using UpdateContext = BasicUpdateContext<BufferStore, Snapshot>;

}  // namespace zeroth
