#pragma once
// Identity preconditioner: plain ZO-SGD, x <- x - lr ((1/q) sum_k g_k z_k + wd x), fused with the restore.
#include <cstddef>

#include "zeroth/preconditioners/update_context.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// MeZO's update, restore and update in one sweep. No state: 0 bytes per parameter.
struct Identity {
  static constexpr const char* name = "identity";

  template <class Context>
  SweepStats update(Context& c) const {
    const std::size_t q = c.seeds.size();
    const double shrink = 1.0 - c.learning_rate * c.weight_decay;
    auto cd = c.scratch_a.first(q), cn = c.scratch_b.first(q);
    for (std::size_t k = 0; k < q; ++k) {
      const double v = -c.learning_rate * c.g[k] * c.norms[k];
      const double u = c.sum_terms ? v : v / static_cast<double>(q);
      const double back = c.from_snapshot ? 0.0 : c.offset[k];
      cd[k] = u - shrink * back;
      cn[k] = u - back;
    }
    SweepPlan p{.kind = c.direction, .seeds = c.seeds, .coeff = cd, .coeff_nodecay = cn, .scale = shrink,
                .scale_nodecay = 1.0, .from_snapshot = c.from_snapshot, .rounding = c.rounding,
                .rounding_seed = c.rounding_seed, .active = c.active, .mask = c.mask, .bounded = true};
    if constexpr (requires { c.stream; })
      return sweep(c.store, c.snapshot, p, c.stream);  // a device context (zeroth/cuda/fused.cuh): gpu::sweep
    else
      return sweep(c.store, c.snapshot, p, c.threads);
  }
};

}  // namespace zeroth
