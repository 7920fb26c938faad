#pragma once
// Options shared by every optimizer: plain aggregates, validated once with a message naming the field.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/schedules/schedule.hpp"
#include "zeroth/stores/block.hpp"
#include "zeroth/stores/dtype.hpp"

namespace zeroth {

/// How a step is undone when a loss is not finite (or a rule rejects a candidate).
enum class Rollback {
  inverse,  ///< sweep back by -eps z: no extra memory; elements may end 1 ulp from where they started
  snapshot  ///< copy the trainable parameters inside the first sweep: bit-exact, costs their bytes once more
};

/// When a run counts as diverged (Status::diverged): its step loss (the mean of the step's evaluations) exceeds a
/// bound. Each test is off at its neutral value. With f0 the first step's loss of the minimize() call and m the lowest
/// step loss of the previous `window` steps:
///   loss > limit,   loss > f0 + (factor - 1) |f0|  (factor f0 when f0 > 0),   loss > m + (growth - 1) |m|.
/// On divergence minimize() restores the best point evaluated (so it keeps a copy of it, as Options::keep_best does)
/// and ends naming the step.
///   zeroth::ZOSGD opt({.divergence = {.enabled = true, .factor = 10}});
struct DivergenceGuard {
  std::optional<bool> enabled{};  ///< unset: on for black-box minimize() over a span or pointer, off otherwise
  double factor = 100.0;          ///< a factor of the first loss (0: off; skipped when the first loss is 0)
  double limit = std::numeric_limits<double>::infinity();  ///< an absolute bound
  std::uint64_t window = 0;       ///< steps the growth test looks back over (0: off)
  double growth = 10.0;           ///< a factor of the window's lowest loss (skipped when that is 0)

  bool on(bool black_box) const noexcept { return enabled.value_or(black_box); }
};

/// Widens epsilon on a plateau. A step in which more than `tie_fraction` of the directions saw no change of the loss
/// (projected gradient exactly 0: a piecewise-constant objective, such as an error rate, flat at this epsilon)
/// multiplies epsilon and the learning rate by `growth`; any other step that completes (not rolled back) multiplies
/// them by `shrink`, never below their set values and never above `max_scale` times them. So epsilon settles where
/// about one step in 12 meets a plateau (at the defaults); a run in which no direction's loss ties exactly (a smooth
/// objective, in general) is bit for bit the run with it off. Epsilon and the rate move together, so that for a rule
/// whose step is linear in the projected gradient (ZO-SGD, momentum, FZOO) the step a given change of the loss makes
/// stays the same. The points x +- eps z then reach up to max_scale eps |z_i| from x (and outside box bounds by as
/// much). The factor is part of the run's state (RunState::plateau_scale: checkpoints hold it; replay recomputes it
/// from the recorded gradients). Not for forward-grad, which has no epsilon.
///   zeroth::ZOSGD opt({.learning_rate = 0.1, .epsilon = 1e-3, .plateau = {.enabled = true}});
struct PlateauAdaptation {
  bool enabled = false;  ///< off, except in zeroth::minimize's FZOO
  double tie_fraction = 0.25;
  double growth = 1.4142135623730951;  ///< sqrt(2)
  double shrink = 0.97;
  double max_scale = 1e4;
};

/// Settings of a run.
///   zeroth::ZOSGD opt({.learning_rate = 1e-3, .epsilon = 1e-3, .max_steps = 2000});
struct Options {
  double learning_rate = 1e-3;
  double epsilon = 1e-3;             ///< perturbation scale
  double weight_decay = 0.0;         ///< decoupled from the loss; skipped for blocks flagged decay = false
  std::uint64_t max_steps = 1000;    ///< also the schedules' horizon (or the steps max_evaluations allows, if fewer)
  std::uint64_t seed = 0;            ///< the run's seed: with the step index it determines every direction
  Schedule lr_schedule{};            ///< multiplies learning_rate
  Schedule eps_schedule{};           ///< multiplies epsilon
  Rollback rollback = Rollback::inverse;
  Rounding rounding = Rounding::nearest;  ///< for bfloat16/float16 blocks in the update sweep
  int threads = 0;                   ///< OpenMP threads for sweeps; 0 = OpenMP's default
  /// minimize() over an Eigen object, span or pointer with an objective that takes the parameters: evaluate up to this
  /// many points of a step at once (OpenMP threads), each on its own copy of the parameters (memory: this many copies
  /// of the trainable parameters, plus one more with Rollback::inverse and no candidate rule). The objective must then
  /// be thread-safe. The points are the same sweeps as sequential ask/tell and their losses are told in evaluation
  /// order, so parameters, Result, trajectories and budget are bit-identical to parallel_evaluations = 1. A candidate
  /// phase (ZO-SGD-Cons) depends on the estimate: its candidates are evaluated concurrently among themselves, after
  /// the estimator's points. A non-finite loss rolls the step back as sequentially; the points of its batch after it
  /// were evaluated but are not counted. Over a BufferStore, or with an objective f() that reads the parameters
  /// itself, it throws: use run() with ask_batch()/tell_batch().
  int parallel_evaluations = 1;
  bool evaluate_final = true;        ///< evaluate the objective once more at the end for Result::loss
  /// The most objective evaluations of the run (RunState::evaluations, the final evaluation included; 0: no limit).
  /// minimize() starts a step only if the step's evaluations and the final one fit, so it never spends more, whatever
  /// the method, q or candidate phase, and it stops at a step boundary (Status::max_evaluations).
  std::uint64_t max_evaluations = 0;
  /// Keep the best point evaluated and return it: minimize() copies the parameters whenever an evaluation beats the
  /// best loss so far (a copy of the trainable parameters' bytes, held for the call) and restores the best at the end,
  /// so Result::loss == Result::best_loss (a later minimize() call continues from there, not from the last point; a
  /// trajectory replays the steps, so its replay ends at the last point).
  /// Unset: on for black-box minimize() over a span or pointer, off otherwise.
  /// With a noisy (minibatch) objective the best is the luckiest evaluation, measured on its own batch: a low outlier,
  /// not the point with the lowest expected loss; prefer the last point, or re-evaluate candidates on held-out data.
  std::optional<bool> keep_best{};
  DivergenceGuard divergence{};
  PlateauAdaptation plateau{};
  /// Box bounds over the trainable coordinates in store order (NLopt's names): each empty (unbounded), one value for
  /// all, or one per coordinate. A Run sets them on its store's trainable blocks; every step's update sweep projects
  /// (or reflects) into the box, so the parameters lie in it after every step. The points evaluated within a step,
  /// x +- eps z, may lie up to eps |z_i| outside. The starting point must lie inside (checked). float32/float64 only.
  /// Trajectories do not record the bounds: replay with the same options.
  std::vector<double> lower_bounds{};
  std::vector<double> upper_bounds{};
  BoundMethod bound_method = BoundMethod::project;
  /// minimize() over a flat buffer (a span or pointer): split it into this many contiguous blocks x0, x1, ... (sizes
  /// differing by at most one), so block-wise estimators and per-block masks have blocks to work on.
  std::size_t blocks = 1;

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
    const DivergenceGuard& dg = divergence;
    if (!(dg.factor == 0.0 || (dg.factor > 1.0 && std::isfinite(dg.factor))))
      return fail("'divergence.factor' must be 0 (off) or finite and > 1 (got " + num(dg.factor) + ")");
    if (std::isnan(dg.limit)) return fail("'divergence.limit' must not be NaN");
    if (!(dg.growth > 1.0 && std::isfinite(dg.growth)))
      return fail("'divergence.growth' must be finite and > 1 (got " + num(dg.growth) + ")");
    const PlateauAdaptation& pa = plateau;
    if (!(pa.tie_fraction >= 0.0 && pa.tie_fraction < 1.0))
      return fail("'plateau.tie_fraction' must be in [0, 1) (got " + num(pa.tie_fraction) + ")");
    if (!(pa.growth > 1.0 && std::isfinite(pa.growth)))
      return fail("'plateau.growth' must be finite and > 1 (got " + num(pa.growth) + ")");
    if (!(pa.shrink > 0.0 && pa.shrink < 1.0))
      return fail("'plateau.shrink' must be in (0, 1) (got " + num(pa.shrink) + ")");
    if (!(pa.max_scale >= 1.0 && std::isfinite(pa.max_scale)))
      return fail("'plateau.max_scale' must be finite and >= 1 (got " + num(pa.max_scale) + ")");
    if (pa.enabled && learning_rate * weight_decay * pa.max_scale >= 1.0)
      return fail("'learning_rate * weight_decay * plateau.max_scale' must be < 1 (got " +
                  num(learning_rate * weight_decay * pa.max_scale) + "): the plateau rule can scale the rate by " +
                  "max_scale");
    if (auto m = detail::check_bounds(lower_bounds, upper_bounds, 0, "Options"); !m.empty()) return fail(m);
    if (blocks == 0) return fail("'blocks' must be >= 1 (got 0)");
    if (threads < 0) return fail("'threads' must be >= 0 (got " + std::to_string(threads) + ")");
    if (parallel_evaluations < 1)
      return fail("'parallel_evaluations' must be >= 1 (got " + std::to_string(parallel_evaluations) + ")");
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
