#pragma once
// Stopping rules: EarlyStopping on a smoothed loss, StepLimit and TimeLimit.
#include <chrono>
#include <cstdint>
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

}  // namespace zeroth
