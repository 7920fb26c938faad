#pragma once
// RGE / SPSA: the randomized gradient estimate of MeZO, one- or two-sided, averaged over q directions.
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>

#include "zeroth/random/direction.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// Two-sided: g_k = (L(x + eps z_k) - L(x - eps z_k)) / (2 eps). One-sided: g_k = (L(x + eps z_k) - L(x)) / eps.
/// The gradient estimate is (1/q) sum_k g_k z_k.
///   zeroth::ZOSGD opt({.learning_rate = 1e-3}, zeroth::RGE({.directions = 4, .direction = zeroth::Direction::rademacher}));
class RGE {
 public:
  struct Options {
    int directions = 1;                       ///< q
    Direction direction = Direction::gaussian;
    bool one_sided = false;
  };

  RGE() = default;
  explicit RGE(Options o) : o_(o) {
    if (o_.directions < 1 || o_.directions > static_cast<int>(kMaxSweepTerms))
      throw std::invalid_argument("zeroth: 'RGE::Options::directions' must be in [1, " +
                                  std::to_string(kMaxSweepTerms) + "] (got " + std::to_string(o_.directions) + ")");
  }

  int directions() const noexcept { return o_.directions; }
  Direction direction() const noexcept { return o_.direction; }
  bool one_sided() const noexcept { return o_.one_sided; }
  int evaluations() const noexcept { return o_.one_sided ? o_.directions + 1 : 2 * o_.directions; }

  /// Offsets of evaluation j along each direction, in units of eps.
  void point(int j, std::span<double> offset) const noexcept {
    for (auto& v : offset) v = 0.0;
    if (o_.one_sided) {
      if (j > 0) offset[j - 1] = 1.0;
    } else {
      offset[j / 2] = (j % 2 == 0) ? 1.0 : -1.0;
    }
  }

  /// Projected gradient scalars g_k from the step's losses.
  void estimate(std::span<const double> loss, double eps, std::span<double> g) const noexcept {
    for (int k = 0; k < o_.directions; ++k)
      g[k] = o_.one_sided ? (loss[k + 1] - loss[0]) / eps : (loss[2 * k] - loss[2 * k + 1]) / (2.0 * eps);
  }

 private:
  Options o_{};
};

}  // namespace zeroth
