#pragma once
// zeroth::minimize: black-box minimization with defaults that need no tuning. Up to kCMAESMaxDimension coordinates,
// CMA-ES at its tutorial defaults; above, FZOO's scale-free step (q one-sided Rademacher directions, the step divided
// by the spread of their losses) with cosine decay over the evaluation budget and epsilon widened on plateaus.
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "zeroth/evolution/cmaes.hpp"
#include "zeroth/methods.hpp"

namespace zeroth {

/// Which method zeroth::minimize runs.
enum class BlackBoxMethod {
  automatic,  ///< CMA-ES at d <= kCMAESMaxDimension, FZOO above
  cmaes,      ///< CMA-ES (CMAES): learns the coordinates' coupling; O(d^2) memory, O(d^3) per eigendecomposition
  fzoo,       ///< FZOO: O(d) work per evaluation and no state; for large d and minibatch noise
};

/// Up to this dimension BlackBoxMethod::automatic picks CMA-ES: its covariance (d^2 doubles, 320 KB here) and
/// decompositions are cheap beside an evaluation, and it is the stronger method on the convergence benchmark's d <= 100
/// problems; FZOO is the stronger at its d >= 10^4 ones, where a full covariance cannot be held.
inline constexpr std::size_t kCMAESMaxDimension = 200;

/// The few settings of zeroth::minimize. Only the budget is required; the defaults are the ones bench/convergence.py
/// measures, unchanged, on every problem (README "Convergence").
struct MinimizeOptions {
  /// The budget (required): calls of f, the final evaluation included; the run stops at a step boundary within it.
  std::uint64_t max_evaluations = 0;
  BlackBoxMethod method = BlackBoxMethod::automatic;
  /// CMA-ES's initial step size: the spread of its first samples around x (CMAES::Options::sigma0), for parameters of
  /// order 1; scale it with yours.
  double sigma0 = 1.0;
  /// FZOO's rate at the start, cosine-decayed to 0 at the budget. A step moves each coordinate by about
  /// learning_rate / (epsilon sqrt(directions)) (0.035 here) whatever the objective's scale, so the default suits
  /// parameters of order 1; scale it with your parameters' scale.
  double learning_rate = 1e-4;
  /// FZOO's perturbation scale at the start. Where the objective is flat at it (a piecewise-constant objective), FZOO
  /// widens it, and the rate with it (Options::plateau); a smooth objective keeps it.
  double epsilon = 1e-3;
  int directions = 8;     ///< FZOO's q one-sided directions per step from one base evaluation: q + 1 evaluations a step
  std::uint64_t seed = 0;
  std::vector<double> lower_bounds{}, upper_bounds{};  ///< box bounds: one value for all coordinates, or one each
  int parallel_evaluations = 1;  ///< for a thread-safe f: up to this many points of a step at once (same bits)
  int threads = 0;               ///< OpenMP threads of the sweeps; 0 = OpenMP's default
  /// The best point evaluated is returned (x holds it; memory: one more copy of x). Turn off for a noisy objective,
  /// whose best single evaluation is a low outlier (x then holds FZOO's last iterate or CMA-ES's final mean).
  bool keep_best = true;
};

namespace detail {
inline void check_budget(const MinimizeOptions& o) {
  if (o.max_evaluations == 0)
    throw std::invalid_argument("zeroth::minimize: 'max_evaluations' must be set: the budget, in calls of f, over "
                                "which the rate decays");
}

/// Whether to run CMA-ES; `step_callbacks`: every callback needs no Run (CMA-ES has none), else FZOO runs at any d.
inline bool use_cmaes(const MinimizeOptions& o, std::size_t d, bool step_callbacks) {
  check_budget(o);
  if (o.method == BlackBoxMethod::cmaes && !step_callbacks)
    throw std::invalid_argument("zeroth::minimize: BlackBoxMethod::cmaes takes callbacks of a StepInfo only; one here "
                                "takes the run (Checkpointer, TrajectoryRecorder), which only FZOO has");
  return step_callbacks && (o.method == BlackBoxMethod::cmaes ||
                            (o.method == BlackBoxMethod::automatic && d <= kCMAESMaxDimension));
}

/// Runs CMA-ES where use_cmaes() says so (a callback taking the run compiles FZOO alone), else FZOO.
template <class F, class X, class... Callbacks>
Result minimize_with(F&& f, X& x, std::size_t d, const MinimizeOptions& o, Callbacks&&... callbacks);

inline CMAES black_box_cmaes(const MinimizeOptions& o) {
  return CMAES({.sigma0 = o.sigma0,
                .max_evaluations = o.max_evaluations,
                .seed = o.seed,
                .lower_bounds = o.lower_bounds,
                .upper_bounds = o.upper_bounds,
                .parallel_evaluations = o.parallel_evaluations,
                .keep_best = o.keep_best});
}

inline FZOO black_box_optimizer(const MinimizeOptions& o) {
  return FZOO({.learning_rate = o.learning_rate,
               .epsilon = o.epsilon,
               .max_steps = ~std::uint64_t{0},  // the budget decides
               .seed = o.seed,
               .lr_schedule = Schedule::cosine(),
               .threads = o.threads,
               .parallel_evaluations = o.parallel_evaluations,
               .max_evaluations = o.max_evaluations,
               .keep_best = o.keep_best,
               .divergence = {.enabled = true},
               .plateau = {.enabled = true},
               .lower_bounds = o.lower_bounds,
               .upper_bounds = o.upper_bounds},
              NormalizedRGE({.directions = o.directions}));
}
}  // namespace detail

/// Minimizes f over the values of x in place, within o.max_evaluations calls, and returns the Result (best loss, its
/// step, the status; x holds the best point evaluated unless keep_best is off). f is a black box over a float or
/// double buffer: f(std::span<const T>), f(const T*, std::size_t) or f(const T*) (a C function). CMA-ES or FZOO as
/// o.method says; FZOO's divergence guard is on (Options::divergence: a step loss above 100x the first ends the run at
/// the best point). Callbacks see each step (a CMA-ES generation) as for Optimizer::minimize; one that takes the run
/// (Checkpointer, TrajectoryRecorder) has FZOO run at any d.
///   double rosenbrock(const double* x, std::size_t n);
///   std::vector<double> x(100, 0.0);
///   zeroth::Result r = zeroth::minimize(rosenbrock, x.data(), x.size(), {.max_evaluations = 20000});
template <class F, FlatScalar T, class... Callbacks>
Result minimize(F&& f, std::span<T> x, const MinimizeOptions& o, Callbacks&&... callbacks) {
  return detail::minimize_with(std::forward<F>(f), x, x.size(), o, std::forward<Callbacks>(callbacks)...);
}

/// As above, over the n values at x.
template <class F, FlatScalar T, class... Callbacks>
Result minimize(F&& f, T* x, std::size_t n, const MinimizeOptions& o, Callbacks&&... callbacks) {
  return minimize(std::forward<F>(f), std::span<T>(x, n), o, std::forward<Callbacks>(callbacks)...);
}

/// As above, over an Eigen vector or matrix (f(x) or f()).
template <class F, class Derived, class... Callbacks>
  requires std::is_base_of_v<Eigen::PlainObjectBase<Derived>, Derived>
Result minimize(F&& f, Derived& x, const MinimizeOptions& o, Callbacks&&... callbacks) {
  return detail::minimize_with(std::forward<F>(f), x, static_cast<std::size_t>(x.size()), o,
                               std::forward<Callbacks>(callbacks)...);
}

namespace detail {
template <class F, class X, class... Callbacks>
Result minimize_with(F&& f, X& x, std::size_t d, const MinimizeOptions& o, Callbacks&&... callbacks) {
  constexpr bool step_callbacks = (StepCallback<std::remove_cvref_t<Callbacks>> && ...);
  if (use_cmaes(o, d, step_callbacks)) {
    if constexpr (step_callbacks)
      return black_box_cmaes(o).minimize(std::forward<F>(f), x, std::forward<Callbacks>(callbacks)...);
  }
  FZOO opt = black_box_optimizer(o);
  return opt.minimize(std::forward<F>(f), x, std::forward<Callbacks>(callbacks)...);
}
}  // namespace detail

}  // namespace zeroth
