#pragma once
// FZOO's estimator (Dang et al., arXiv 2506.09034): q one-sided directions from one base evaluation, the projected
// gradients divided by the standard deviation of the q perturbed losses, so that the step does not depend on the
// objective's scale (a ZO form of normalized SGD).
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>

#include "zeroth/random/direction.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// l_0 = L(x), l_k = L(x + eps z_k), sigma^2 = 1/(q-1) sum_k (l_k - mean(l))^2 (k = 1..q), and
/// g_k = (l_k - l_0) / (eps sigma). With the identity rule the step is x <- x - lr (1/q) sum_k g_k z_k, FZOO's
/// theta - eta g / sigma. Multiplying the objective by c > 0 or adding a constant leaves every step unchanged; the
/// step along the gradient is about lr / eps in parameter units whatever the objective. All q losses equal
/// (sigma = 0, a flat region or a noiseless plateau) gives no step. q + 1 evaluations per step.
///   zeroth::FZOO opt({.learning_rate = 1e-4, .epsilon = 1e-3}, zeroth::NormalizedRGE({.directions = 8}));
class NormalizedRGE {
 public:
  struct Options {
    int directions = 8;                          ///< q >= 2 (sigma needs two losses)
    Direction direction = Direction::rademacher;  ///< FZOO's choice; gaussian and sphere work too
  };

  NormalizedRGE() = default;
  explicit NormalizedRGE(Options o) : o_(o) {
    if (o_.directions < 2 || o_.directions > static_cast<int>(kMaxSweepTerms))
      throw std::invalid_argument("zeroth: 'NormalizedRGE::Options::directions' must be in [2, " +
                                  std::to_string(kMaxSweepTerms) + "] (got " + std::to_string(o_.directions) +
                                  "): the standard deviation needs at least two perturbed losses");
  }

  int directions() const noexcept { return o_.directions; }
  Direction direction() const noexcept { return o_.direction; }
  int evaluations() const noexcept { return o_.directions + 1; }

  /// Evaluation 0 at x, evaluation j > 0 at x + eps z_j.
  void point(int j, std::span<double> offset) const noexcept {
    for (auto& v : offset) v = 0.0;
    if (j > 0) offset[static_cast<std::size_t>(j - 1)] = 1.0;
  }

  void estimate(std::span<const double> loss, double eps, std::span<double> g) const noexcept {
    const int q = o_.directions;
    double mean = 0;
    for (int k = 1; k <= q; ++k) mean += loss[static_cast<std::size_t>(k)];
    mean /= q;
    double ss = 0;
    for (int k = 1; k <= q; ++k) ss += (loss[static_cast<std::size_t>(k)] - mean) * (loss[static_cast<std::size_t>(k)] - mean);
    const double sigma = std::sqrt(ss / (q - 1));
    for (int k = 0; k < q; ++k)
      g[static_cast<std::size_t>(k)] = sigma > 0 ? (loss[static_cast<std::size_t>(k) + 1] - loss[0]) / (eps * sigma) : 0.0;
  }

 private:
  Options o_{};
};

}  // namespace zeroth
