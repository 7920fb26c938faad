#pragma once
// What a step and a run report: status, counts, losses; numerical trouble is a status, not an exception.
#include <chrono>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

namespace zeroth {

/// Why a run ended.
enum class Status {
  running,
  max_steps,         ///< the step budget was spent
  stopped,           ///< a callback asked to stop (early stopping, a step or time limit)
  non_finite_loss,   ///< a loss was NaN or infinite: the step was rolled back
  max_evaluations,   ///< the evaluation budget (Options::max_evaluations) could not pay for another step
  diverged,          ///< the divergence guard fired: the parameters were rolled back to the best point
  collapsed,         ///< the objective stopped responding to the parameters (CollapseDetector)
  rank_failed,       ///< a process of a distributed run failed to evaluate (it threw): the step was rolled back
  non_finite_gradient,  ///< a first-order method's gradient held a NaN or an infinity: no parameter moved
  converged,         ///< CMA-ES's samples shrank below CMAES::Options::tolerance
};

inline const char* to_string(Status s) {
  switch (s) {
    case Status::running: return "running";
    case Status::max_steps: return "max_steps";
    case Status::stopped: return "stopped";
    case Status::non_finite_loss: return "non_finite_loss";
    case Status::max_evaluations: return "max_evaluations";
    case Status::diverged: return "diverged";
    case Status::collapsed: return "collapsed";
    case Status::rank_failed: return "rank_failed";
    case Status::non_finite_gradient: return "non_finite_gradient";
    case Status::converged: return "converged";
  }
  return "?";
}

/// What an objective that can fail in more ways than a non-finite loss (zeroth/distributed's) says of the evaluation
/// that made minimize() roll a step back: objective.failure() returns one, or nothing when the loss was just not finite.
struct EvaluationFailure {
  Status status = Status::non_finite_loss;
  std::string message;
};

/// One evaluation the caller must perform: the parameters already hold the point to evaluate.
struct Ask {
  std::uint64_t step = 0;
  int index = 0;  ///< evaluation within the step
  int count = 0;  ///< evaluations this step needs
};

/// Everything about one completed (or rolled back) step; passed to callbacks.
struct StepInfo {
  std::uint64_t step = 0;         ///< 0-based index of the step just taken
  std::uint64_t seed = 0;         ///< its seed: directions are z(seed, k, block, index)
  double loss = 0.0;              ///< mean of the step's evaluations
  std::span<const double> projected_gradient{};  ///< g_k, one per direction
  double learning_rate = 0.0;     ///< as scheduled for this step
  double epsilon = 0.0;
  std::uint64_t evaluations = 0;  ///< objective evaluations so far in the run
  std::size_t vanished = 0;       ///< 16-bit elements whose update rounded away this step
  bool rolled_back = false;       ///< a loss was not finite; parameters were restored
  double seconds = 0.0;           ///< wall time since the run began
};

/// The outcome of minimize().
struct Result {
  Status status = Status::running;
  std::uint64_t steps = 0;        ///< steps completed in this call
  std::uint64_t evaluations = 0;  ///< objective evaluations in this call
  double loss = 0.0;              ///< objective at the returned parameters (best_loss when the best point was restored)
  double last_loss = 0.0;         ///< at the last point the run reached (the final evaluation, or the last step's loss)
  /// The lowest finite loss of any single evaluation in this call (+inf if none), at the point the parameters held
  /// then (x + eps z for an RGE evaluation; inside the box when there are bounds), and the step it belongs to (`steps` after the first step of the call
  /// for the final evaluation: state().step at the end).
  double best_loss = std::numeric_limits<double>::infinity();
  std::uint64_t best_step = 0;
  bool best_restored = false;     ///< the parameters hold the best point (Options::keep_best, or a divergence)
  std::string message;
  double seconds = 0.0;

  bool ok() const noexcept {
    return status == Status::max_steps || status == Status::stopped || status == Status::max_evaluations ||
           status == Status::converged;
  }
};

}  // namespace zeroth
