#pragma once
// The three-point estimator of HiZOO: L(x), L(x + eps z), L(x - eps z) give the projected gradient and the curvature.
#include <span>

#include "zeroth/random/direction.hpp"

namespace zeroth {

/// Evaluates l0 = L(x), l+ = L(x + eps z), l- = L(x - eps z) (3 evaluations, 2 perturbing sweeps) and reports
/// g = (l+ - l-) / (2 eps) and the curvature kappa = (l+ + l- - 2 l0) / (2 eps^2) (scalars 0 and 1).
///   zeroth::Optimizer<zeroth::ThreePointRGE, zeroth::DiagonalHessian> hizoo({.learning_rate = 1e-3});
class ThreePointRGE {
 public:
  static constexpr bool reports_curvature = true;
  struct Options {
    Direction direction = Direction::gaussian;
  };

  ThreePointRGE() = default;
  explicit ThreePointRGE(Options o) : o_(o) {}

  int directions() const noexcept { return 1; }
  int evaluations() const noexcept { return 3; }
  int scalars() const noexcept { return 2; }
  Direction direction() const noexcept { return o_.direction; }

  /// Offsets of evaluation j in units of eps: 0, +1, -1.
  void point(int j, std::span<double> offset) const noexcept { offset[0] = j == 0 ? 0.0 : (j == 1 ? 1.0 : -1.0); }

  /// out[0] = g, out[1] = kappa.
  void estimate(std::span<const double> loss, double eps, std::span<double> out) const noexcept {
    out[0] = (loss[1] - loss[2]) / (2.0 * eps);
    out[1] = (loss[1] + loss[2] - 2.0 * loss[0]) / (2.0 * eps * eps);
  }

 private:
  Options o_{};
};

}  // namespace zeroth
