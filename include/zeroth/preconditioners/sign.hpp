#pragma once
// ZO-SGD-Sign: the plain update with each projected scalar g_k replaced by its sign, as ZO-Bench's code does.
#include <array>
#include <cstddef>

#include "zeroth/preconditioners/identity.hpp"

namespace zeroth {

/// x <- x - lr ((1/q) sum_k sign(g_k) z_k + wd x), fused with the restore. No state: 0 bytes per parameter.
///   zeroth::ZOSGDSign opt({.learning_rate = 1e-4});
struct Sign {
  static constexpr const char* name = "sign";

  template <class Context>
  SweepStats update(Context& c) {
    const std::size_t q = c.seeds.size();
    for (std::size_t k = 0; k < q; ++k) s_[k] = c.g[k] > 0 ? 1.0 : (c.g[k] < 0 ? -1.0 : 0.0);
    Context signs = c;
    signs.g = std::span<const double>(s_).first(q);
    return Identity{}.update(signs);
  }

 private:
  std::array<double, kMaxSweepTerms> s_{};
};

}  // namespace zeroth
