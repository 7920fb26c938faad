#pragma once
// Schedules for the learning rate and the perturbation scale: constant, linear or cosine decay, linear warmup.
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

namespace zeroth {

/// A multiplier of a base value over the steps of a run.
///   opts.lr_schedule = zeroth::Schedule::cosine(/*warmup=*/100, /*final_factor=*/0.1);
struct Schedule {
  enum class Kind { constant, linear, cosine };
  Kind kind = Kind::constant;
  std::uint64_t warmup_steps = 0;  ///< linear ramp from 0 over the first steps
  double final_factor = 0.0;       ///< value at the last step, for linear and cosine decay

  static Schedule constant(std::uint64_t warmup = 0) { return {Kind::constant, warmup, 1.0}; }
  static Schedule linear(std::uint64_t warmup = 0, double final_factor = 0.0) {
    return {Kind::linear, warmup, final_factor};
  }
  static Schedule cosine(std::uint64_t warmup = 0, double final_factor = 0.0) {
    return {Kind::cosine, warmup, final_factor};
  }

  /// The multiplier at `step` (0-based) of a run of `total` steps.
  double factor(std::uint64_t step, std::uint64_t total) const noexcept {
    if (step < warmup_steps) return static_cast<double>(step + 1) / static_cast<double>(warmup_steps + 1);
    if (kind == Kind::constant || total <= warmup_steps + 1) return 1.0;
    const double t = std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(total - warmup_steps - 1));
    if (kind == Kind::linear) return 1.0 + (final_factor - 1.0) * t;
    return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
  }

  /// Empty when valid, else what is wrong, naming `field`.
  std::string check(const std::string& field) const {
    if (!(final_factor >= 0.0 && std::isfinite(final_factor)))
      return "'" + field + ".final_factor' must be finite and >= 0 (got " + std::to_string(final_factor) + ")";
    return {};
  }
};

}  // namespace zeroth
