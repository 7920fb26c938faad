#pragma once
// What a step and a run report: status, counts, losses; numerical trouble is a status, not an exception.
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace zeroth {

/// Why a run ended.
enum class Status {
  running,
  max_steps,         ///< the step budget was spent
  stopped,           ///< a callback asked to stop (early stopping, a step or time limit)
  non_finite_loss,   ///< a loss was NaN or infinite: the step was rolled back
  collapsed,         ///< the objective stopped responding to the parameters (CollapseDetector)
};

inline const char* to_string(Status s) {
  switch (s) {
    case Status::running: return "running";
    case Status::max_steps: return "max_steps";
    case Status::stopped: return "stopped";
    case Status::non_finite_loss: return "non_finite_loss";
    case Status::collapsed: return "collapsed";
  }
  return "?";
}

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
  double loss = 0.0;              ///< objective at the final parameters (or the last step's loss)
  std::string message;
  double seconds = 0.0;

  bool ok() const noexcept { return status == Status::max_steps || status == Status::stopped; }
};

}  // namespace zeroth
