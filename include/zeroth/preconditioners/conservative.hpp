#pragma once
// ZO-SGD-Cons: after the estimate, evaluate x0, x0 + lr g-hat and x0 - lr g-hat and keep the best of the three.
#include <array>
#include <cstddef>
#include <span>
#include <stdexcept>

#include "zeroth/preconditioners/identity.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// The conservative update of ZO-Bench: a candidate phase of 3 evaluations after the estimate, at
///   0: x0,  1: (1 - lr wd) x0 + lr g-hat,  2: (1 - lr wd) x0 - lr g-hat   (each swept from the step's snapshot),
/// keeping the lowest loss (ties prefer x0, then the descent step). So a step never accepts a point that evaluated worse
/// than where it began, and rejecting a step restores x0 bit for bit. No state: 0 bytes per parameter, but the run
/// keeps a snapshot (the parameters' bytes once more) whatever Options::rollback says. 2q + 3 evaluations per step.
///   zeroth::ZOSGDCons opt({.learning_rate = 1e-3});
struct Conservative {
  static constexpr const char* name = "conservative";

  /// The plain descent step (what candidate 2 is): used when the rule runs without a candidate phase.
  SweepStats update(UpdateContext& c) const { return Identity{}.update(c); }

  int candidates() const noexcept { return 3; }

  /// Moves the parameters to candidate j.
  SweepStats candidate(int j, UpdateContext& c) {
    if (j == 0) {
      if (c.snapshot == nullptr || !c.from_snapshot) throw std::logic_error("zeroth: Conservative needs the snapshot");
      restore_snapshot(c.store, *c.snapshot, c.threads);
      return {};
    }
    if (j == 2) return Identity{}.update(c);
    const std::size_t q = c.seeds.size();
    for (std::size_t k = 0; k < q; ++k) neg_[k] = -c.g[k];
    UpdateContext up = c;
    up.g = std::span<const double>(neg_).first(q);
    return Identity{}.update(up);
  }

  /// The kept candidate: the lowest loss, ties to x0 and then to the descent step.
  int choose(std::span<const double> loss) const noexcept {
    int best = 0;
    if (loss[2] < loss[best]) best = 2;
    if (loss[1] < loss[best]) best = 1;
    return best;
  }

 private:
  std::array<double, kMaxSweepTerms> neg_{};
};

}  // namespace zeroth
