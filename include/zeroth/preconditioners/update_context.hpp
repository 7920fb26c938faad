#pragma once
// What an update rule sees at the end of a step: the directions, where the parameters stand, the estimate.
#include <cstdint>
#include <span>

#include "zeroth/random/direction.hpp"
#include "zeroth/stores/buffer_store.hpp"
#include "zeroth/sweeps/snapshot.hpp"

namespace zeroth {

/// The parameters currently hold x0 + sum_k offset[k] z_k (or x0 is in the snapshot when `from_snapshot`);
/// the rule must move them to the updated x1 in one fused sweep.
struct UpdateContext {
  BufferStore& store;
  Snapshot* snapshot;
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
};

}  // namespace zeroth
