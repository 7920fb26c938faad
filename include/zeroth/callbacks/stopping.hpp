#pragma once
// Stopping rules: EarlyStopping on a smoothed loss, StepLimit, TimeLimit, and CollapseDetector.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "zeroth/optimizer/callback_dispatch.hpp"
#include "zeroth/optimizer/result.hpp"

namespace zeroth {

/// Stops when the loss's moving average (over `window` steps) has not improved by `min_delta` for `patience` steps.
class EarlyStopping {
 public:
  explicit EarlyStopping(std::uint64_t patience = 100, double min_delta = 0.0, double smoothing = 0.9)
      : patience_(patience), min_delta_(min_delta), beta_(smoothing) {}

  bool on_step(const StepInfo& s) {
    avg_ = seen_ ? beta_ * avg_ + (1 - beta_) * s.loss : s.loss;
    seen_ = true;
    if (avg_ < best_ - min_delta_) {
      best_ = avg_;
      since_ = 0;
    } else {
      ++since_;
    }
    return since_ < patience_;
  }
  std::string name() const { return "EarlyStopping (no improvement for " + std::to_string(patience_) + " steps)"; }

 private:
  std::uint64_t patience_, since_ = 0;
  double min_delta_, beta_, avg_ = 0, best_ = std::numeric_limits<double>::infinity();
  bool seen_ = false;
};

/// Stops after `steps` steps of this call (Options::max_steps bounds the whole run).
class StepLimit {
 public:
  explicit StepLimit(std::uint64_t steps) : left_(steps) {}
  bool on_step(const StepInfo&) { return --left_ > 0; }
  std::string name() const { return "StepLimit"; }

 private:
  std::uint64_t left_;
};

/// Stops once `seconds` of wall time have passed since the run began.
class TimeLimit {
 public:
  explicit TimeLimit(double seconds) : seconds_(seconds) {}
  void on_begin(const RunInfo&) { start_ = std::chrono::steady_clock::now(); }
  bool on_step(const StepInfo&) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() < seconds_;
  }
  std::string name() const { return "TimeLimit (" + std::to_string(seconds_) + " s)"; }

 private:
  double seconds_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// What CollapseDetector watches for; see there.
struct CollapseOptions {
  std::uint64_t steps = 20;  ///< steps in a row that must show it
  double chance_loss = std::numeric_limits<double>::quiet_NaN();  ///< the loss of equal scores (ln C); NaN: unused
  double tolerance = 1e-4;   ///< how near chance_loss counts as at it
};

/// Ends the run with Status::collapsed once, for `steps` steps in a row, the objective has stopped responding to the
/// parameters: every projected gradient exactly 0 and exactly the previous step's loss (updates have stopped), or,
/// given a chance-level loss (ln C for the cross-entropy of C classes), a loss within `tolerance` of it on every
/// batch (the model gives every class the same score). Too large a learning rate does this to a classifier: a run
/// that reports success from there has learnt nothing.
///   opt.minimize(f, x, CollapseDetector({.steps = 20, .chance_loss = std::log(2.0)}));
class CollapseDetector {
 public:
  explicit CollapseDetector(CollapseOptions o = {}) : o_(o) {}

  bool on_step(const StepInfo& s) {
    const bool flat = std::all_of(s.projected_gradient.begin(), s.projected_gradient.end(),
                                  [](double g) { return g == 0.0; }) &&
                      s.loss == previous_;
    const bool chance = std::isfinite(o_.chance_loss) && std::abs(s.loss - o_.chance_loss) <= o_.tolerance;
    previous_ = s.loss;
    flat_ = flat ? flat_ + 1 : 0;
    chance_ = chance ? chance_ + 1 : 0;
    last_ = s.step;
    return o_.steps == 0 || (flat_ < o_.steps && chance_ < o_.steps);
  }
  Status stop_status() const { return Status::collapsed; }
  /// Whether it ended the run.
  bool collapsed() const { return o_.steps > 0 && (flat_ >= o_.steps || chance_ >= o_.steps); }
  /// What it saw, for the run's message (Result::message), once collapsed(); "CollapseDetector" before.
  std::string name() const {
    if (!collapsed()) return "CollapseDetector";
    char loss[32];
    std::snprintf(loss, sizeof loss, "%.9g", previous_);
    const std::string what = flat_ >= o_.steps
                                 ? "the projected gradient was exactly 0 and the loss exactly " + std::string(loss)
                                 : "the loss stayed within " + number(o_.tolerance) + " of chance (" +
                                       number(o_.chance_loss) + ", equal scores for every class)";
    return what + " for " + std::to_string(o_.steps) + " steps in a row (steps " +
           std::to_string(last_ + 2 - o_.steps) + " to " + std::to_string(last_ + 1) +
           ", counted as steps done): the model collapsed and no longer responds to its parameters; a smaller "
           "learning rate may avoid it";
  }

 private:
  static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
  }
  CollapseOptions o_;
  double previous_ = std::numeric_limits<double>::quiet_NaN();
  std::uint64_t flat_ = 0, chance_ = 0, last_ = 0;
};

}  // namespace zeroth
