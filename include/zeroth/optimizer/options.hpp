#pragma once
// Options shared by every optimizer: plain aggregates, validated once with a message naming the field.
#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "zeroth/schedules/schedule.hpp"
#include "zeroth/stores/dtype.hpp"

namespace zeroth {

/// How a step is undone when a loss is not finite (or a rule rejects a candidate).
enum class Rollback {
  inverse,  ///< sweep back by -eps z: no extra memory; elements may end 1 ulp from where they started
  snapshot  ///< copy the trainable parameters inside the first sweep: bit-exact, costs their bytes once more
};

/// Settings of a run.
///   zeroth::ZOSGD opt({.learning_rate = 1e-3, .epsilon = 1e-3, .max_steps = 2000});
struct Options {
  double learning_rate = 1e-3;
  double epsilon = 1e-3;             ///< perturbation scale
  double weight_decay = 0.0;         ///< decoupled from the loss; skipped for blocks flagged decay = false
  std::uint64_t max_steps = 1000;    ///< also the horizon of the schedules
  std::uint64_t seed = 0;            ///< the run's seed: with the step index it determines every direction
  Schedule lr_schedule{};            ///< multiplies learning_rate
  Schedule eps_schedule{};           ///< multiplies epsilon
  Rollback rollback = Rollback::inverse;
  Rounding rounding = Rounding::nearest;  ///< for bfloat16/float16 blocks in the update sweep
  int threads = 0;                   ///< OpenMP threads for sweeps; 0 = OpenMP's default
  bool evaluate_final = true;        ///< evaluate the objective once more at the end for Result::loss

  /// Ceres style: true when valid, else false with `error` naming the field and its bound.
  bool is_valid(std::string* error) const {
    auto fail = [&](const std::string& m) {
      if (error) *error = m;
      return false;
    };
    auto num = [](double v) {
      std::ostringstream s;
      s << v;
      return s.str();
    };
    if (!(learning_rate > 0.0 && std::isfinite(learning_rate)))
      return fail("'learning_rate' must be finite and > 0 (got " + num(learning_rate) + ")");
    if (!(epsilon > 0.0 && std::isfinite(epsilon)))
      return fail("'epsilon' must be finite and > 0 (got " + num(epsilon) + ")");
    if (!(weight_decay >= 0.0 && std::isfinite(weight_decay)))
      return fail("'weight_decay' must be finite and >= 0 (got " + num(weight_decay) + ")");
    if (learning_rate * weight_decay >= 1.0)
      return fail("'learning_rate * weight_decay' must be < 1 (got " + num(learning_rate * weight_decay) + ")");
    if (max_steps == 0) return fail("'max_steps' must be >= 1 (got 0)");
    if (threads < 0) return fail("'threads' must be >= 0 (got " + std::to_string(threads) + ")");
    if (auto m = lr_schedule.check("lr_schedule"); !m.empty()) return fail(m);
    if (auto m = eps_schedule.check("eps_schedule"); !m.empty()) return fail(m);
    return true;
  }

  /// Throws std::invalid_argument naming the offending field.
  void validate() const {
    std::string e;
    if (!is_valid(&e)) throw std::invalid_argument("zeroth: " + e);
  }
};

}  // namespace zeroth
