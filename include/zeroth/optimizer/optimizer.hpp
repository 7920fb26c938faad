#pragma once
// Optimizer<Estimator, Preconditioner>: minimize(objective, params, callbacks...) and ask/tell runs.
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "zeroth/core/concepts.hpp"
#include "zeroth/estimators/forward_grad.hpp"
#include "zeroth/estimators/rge.hpp"
#include "zeroth/optimizer/best_point.hpp"
#include "zeroth/optimizer/callback_dispatch.hpp"
#include "zeroth/optimizer/divergence.hpp"
#include "zeroth/optimizer/flat.hpp"
#include "zeroth/optimizer/options.hpp"
#include "zeroth/optimizer/parallel.hpp"
#include "zeroth/optimizer/result.hpp"
#include "zeroth/optimizer/run.hpp"
#include "zeroth/preconditioners/identity.hpp"
#include "zeroth/stores/eigen_store.hpp"

namespace zeroth {

namespace detail {
/// minimize() without parallel evaluations: `why` says what Options::parallel_evaluations would need.
struct Sequential {
  const char* why;
};
/// minimize() whose objective takes the parameters: points copied into C objects (make() returns one shaped like the
/// parameters, whose first byte is `base`) and evaluated by eval(C&).
template <class C, class Make, class Eval>
struct Parallel {
  Make make;
  const void* base;
  Eval eval;
};
template <class Par>
struct copies_of {
  using type = int;
};
template <class C, class Make, class Eval>
struct copies_of<Parallel<C, Make, Eval>> {
  using type = PointCopies<C>;
};
}  // namespace detail

/// A zeroth-order optimizer composed of a gradient estimator and a preconditioner (update rule).
///   zeroth::ZOSGD opt({.learning_rate = 1e-2, .max_steps = 500});
///   zeroth::Result r = opt.minimize([](const Eigen::VectorXd& x) { return x.squaredNorm(); }, x,
///                                   zeroth::ProgressBar());
template <class E = RGE, class R = Identity>
class Optimizer {
  static_assert(Estimator<E>, "zeroth: the estimator needs directions(), evaluations(), direction(), "
                              "point(int, span<double>) and estimate(span<const double>, double, span<double>)");
  static_assert(Preconditioner<R>, "zeroth: the preconditioner needs 'SweepStats update(UpdateContext&)' and a "
                                   "static 'name'");
  static_assert(CurvatureCompatible<E, R>, "zeroth: this preconditioner needs curvature from the estimator (HiZOO's "
                                           "DiagonalHessian needs ThreePointRGE)");

 public:
  explicit Optimizer(Options options = {}, E estimator = {}, R rule = {})
      : opt_(options), est_(std::move(estimator)), rule_(std::move(rule)) {
    opt_.validate();
  }

  /// Minimizes f over `params` (an Eigen vector/matrix or a BufferStore), in place, from state().step on.
  template <class F, class P, class... Callbacks>
    requires(!std::is_pointer_v<P> && !detail::is_span<P>)
  Result minimize(F&& f, P& params, Callbacks&&... callbacks) {
    static_assert(Objective<F, P>, "zeroth: the objective must be callable as f(params) or f(), returning a "
                                   "number convertible to double");
    if constexpr (std::derived_from<P, BufferStore>) {
      static_assert(!requires { E::forward_mode; },
                    "zeroth: forward-grad evaluates the objective on dual numbers, so minimize() needs an Eigen vector "
                    "or matrix and a generic objective; over a BufferStore, tell JVPs through run() instead, or use an "
                    "RGE estimator (zeroth::ZOSGD, ZOAdam, ...) for a black-box objective");
      return minimize_store(f, params, params, false,
                            detail::Sequential{"the objective reads the BufferStore itself; evaluate copies through "
                                               "run() with ask_batch()/tell_batch() instead"},
                            callbacks...);
    } else {
      static_assert(std::is_base_of_v<Eigen::PlainObjectBase<P>, P>,
                    "zeroth: params must be an Eigen vector or matrix, or a zeroth::BufferStore (for a plain buffer: "
                    "std::span<float|double>, or a pointer and a size)");
      EigenStore store(params);
      if constexpr (requires { E::forward_mode; }) {
        return minimize_store(f, params, store, false,
                              detail::Sequential{"forward-grad evaluates once per step, on dual numbers"},
                              callbacks...);
      } else if constexpr (requires { f(params); }) {
        auto make = [&params] { return P(params); };
        auto eval = [&f](P& copy) { return evaluate(f, copy); };
        return minimize_store(f, params, store, false,
                              detail::Parallel<P, decltype(make), decltype(eval)>{make, params.data(), eval},
                              callbacks...);
      } else {
        return minimize_store(f, params, store, false,
                              detail::Sequential{"the objective f() reads the parameters itself; take them as an "
                                                 "argument, f(params), so that each evaluation can get its own copy"},
                              callbacks...);
      }
    }
  }

  /// Black-box minimize() over a flat float/double buffer, in place. f takes std::span<const T>, (const T*, size_t)
  /// or const T* (a C function). Options::blocks splits the buffer into blocks; Options::keep_best and the divergence
  /// guard default to on here. With blocks = 1 it takes the same steps, bit for bit, as minimize() on an Eigen vector.
  ///   double sphere(const double* x, std::size_t n);
  ///   zeroth::ZOAdam opt({.learning_rate = 1e-2, .max_evaluations = 2000, .lower_bounds = {-5}, .upper_bounds = {5}});
  ///   zeroth::Result r = opt.minimize(sphere, x.data(), x.size());
  template <class F, FlatScalar T, class... Callbacks>
  Result minimize(F&& f, std::span<T> x, Callbacks&&... callbacks) {
    static_assert(!requires { E::forward_mode; },
                  "zeroth: forward-grad needs the gradient along z, which a black-box objective over a float/double "
                  "buffer cannot give: use an RGE estimator (zeroth::ZOSGD, ZOAdam, ZOSGDCons, ... or "
                  "Optimizer<RGE, Rule>), or forward-grad on an Eigen vector with a generic objective");
    static_assert(FlatObjective<F, T>, "zeroth: a black-box objective must be callable as f(std::span<const T>), "
                                       "f(const T*, std::size_t) or f(const T*), returning a number");
    BufferStore store = detail::flat_store(x, opt_.blocks);
    detail::FlatCall<std::remove_reference_t<F>, T> call{f, x};
    auto eval = [&f](std::vector<T>& copy) {
      return detail::FlatCall<std::remove_reference_t<F>, T>{f, std::span<T>(copy)}();
    };
    auto make = [x] { return std::vector<T>(x.begin(), x.end()); };
    return minimize_store(call, store, store, true,
                          detail::Parallel<std::vector<T>, decltype(make), decltype(eval)>{make, x.data(), eval},
                          callbacks...);
  }

  /// Black-box minimize() over the n values at x (as the std::span overload).
  template <class F, FlatScalar T, class... Callbacks>
  Result minimize(F&& f, T* x, std::size_t n, Callbacks&&... callbacks) {
    return minimize(std::forward<F>(f), std::span<T>(x, n), std::forward<Callbacks>(callbacks)...);
  }

  /// An ask/tell run over `store`, continuing from state().
  Run<E, R> run(BufferStore& store) { return Run<E, R>(store, opt_, est_, rule_, state_); }

  const Options& options() const noexcept { return opt_; }
  const E& estimator() const noexcept { return est_; }
  R& preconditioner() noexcept { return rule_; }
  const R& preconditioner() const noexcept { return rule_; }
  /// Steps and evaluations taken so far; minimize() continues from here (set it to resume).
  RunState& state() noexcept { return state_; }
  const RunState& state() const noexcept { return state_; }

 private:
  template <class F, class P>
  static double evaluate(F& f, P& params) {
    if constexpr (requires { f(params); })
      return static_cast<double>(f(params));
    else
      return static_cast<double>(f());
  }

  // The run of every minimize(): the step loop, the evaluation budget, the best point and the divergence guard.
  // `black_box` (a flat buffer) turns keep_best and the guard on unless the options say otherwise.
  // With parallel evaluations (a detail::Parallel `par`): each batch of points is copied, evaluated concurrently and
  // told in order; a loss is offered to the best point from its copy, in the same order as sequentially.
  template <class F, class P, class Par, class... Callbacks>
  Result minimize_store(F& f, P& params, BufferStore& store, bool black_box, const Par& par, Callbacks&... callbacks) {
    constexpr bool can_parallel = !std::is_same_v<Par, detail::Sequential>;
    const int width = opt_.parallel_evaluations;
    if constexpr (!can_parallel)
      if (width > 1)
        throw std::invalid_argument("zeroth: 'parallel_evaluations' = " + std::to_string(width) +
                                    " needs each evaluation on its own copy of the parameters, but " + par.why);
    static_assert((detail::Callback<Callbacks, Run<E, R>> && ...),
                  "zeroth: a callback of minimize() needs on_begin(RunInfo), on_step(StepInfo[, run]), on_end(Result) "
                  "or to be callable as c(StepInfo) (returning false stops the run)");
    Run<E, R> run(store, opt_, est_, rule_, state_);
    constexpr bool takes_steps = requires { f.take_step(run, params); };
    if constexpr (takes_steps)
      if (opt_.keep_best.value_or(false) || opt_.divergence.on(false) || width > 1)
        throw std::invalid_argument("zeroth: an objective that takes whole steps itself (distributed::"
                                    "DirectionParallel) cannot be combined with keep_best, the divergence guard or "
                                    "parallel_evaluations");
    const RunState begin = state_;
    Result result;
    black_box = black_box && !takes_steps;  // its defaults (keep_best, the guard) need every loss here
    const bool guard = opt_.divergence.on(black_box), keep = opt_.keep_best.value_or(black_box);
    BestPoint best(store, keep || guard);
    detail::DivergenceMonitor monitor(opt_.divergence);
    const std::uint64_t per_step = static_cast<std::uint64_t>(run.evaluations_per_step());
    // Every evaluation is offered to the best point while the parameters hold it (a dual's value is f at x).
    auto observed = [&](const auto& v) -> decltype(f(v)) {
      auto out = f(v);
      if constexpr (is_dual<std::remove_cvref_t<decltype(out)>>::value)
        best.offer(store, static_cast<double>(out.v), run.step());
      else
        best.offer(store, static_cast<double>(out), run.step());
      return out;
    };
    // The copies of parallel evaluations, made (after the Run set the bounds on the store) at the first step.
    std::optional<typename detail::copies_of<Par>::type> copies;
    [[maybe_unused]] std::vector<double> losses(static_cast<std::size_t>(width));
    [[maybe_unused]] RunInfo info{store.dimension(), run.horizon(), begin.step, run.evaluations_per_step(),
                                  opt_.max_evaluations};
    (detail::call_begin(callbacks, info), ...);
    while (run.step() < opt_.max_steps) {
      if (!run.step_fits(opt_.evaluate_final ? 1 : 0)) {
        result.status = Status::max_evaluations;
        result.message = "reached max_evaluations = " + std::to_string(opt_.max_evaluations) + " after step " +
                         std::to_string(run.step()) + " (a step needs " + std::to_string(per_step) + ")";
        break;
      }
      if constexpr (MinibatchObjective<F>) f.next_batch(run.step());
      std::optional<StepInfo> step;
      if constexpr (takes_steps) {
        step = f.take_step(run, params);  // its evaluations (every point of the step, the candidates) and tells
      } else if constexpr (requires { E::forward_mode; }) {
        if constexpr (!std::derived_from<P, BufferStore>) step = forward_grad_step(observed, params, run);
      } else if (can_parallel && width > 1) {
        if constexpr (can_parallel) {
          if (!copies) copies.emplace(store, par.make, par.base, width);
          while (!step) step = parallel_step(par, *copies, run, best, losses);
        }
      } else {
        while (!step) {
          run.ask();
          const double loss = evaluate(f, params);
          best.offer(store, loss, run.step());
          step = run.tell(loss);
        }
      }
      state_ = run.state();
      result.last_loss = step->loss;
      bool go_on = true;
      std::string who;
      Status why = Status::stopped;
      ((go_on = detail::call_step(callbacks, *step, run, who, why) && go_on), ...);
      if (step->rolled_back) {
        result.status = Status::non_finite_loss;
        result.message = "loss is not finite at step " + std::to_string(step->step) + " (evaluation " +
                         std::to_string(run.failed_evaluation()) + ")";
        if constexpr (requires { { f.failure() } -> std::convertible_to<std::optional<EvaluationFailure>>; })
          if (std::optional<EvaluationFailure> why = f.failure()) {
            result.status = why->status;
            result.message = why->message;
          }
        result.message += "; the step was rolled back";
        break;
      }
      if constexpr (requires { { f.failure() } -> std::convertible_to<std::optional<EvaluationFailure>>; })
        if (std::optional<EvaluationFailure> why = f.failure(); why && why->status == Status::rank_failed) {
          result.status = why->status;  // in a candidate phase: the failed candidates were not kept
          result.message = why->message + "; the step kept a candidate evaluated without failure";
          break;
        }
      if (guard) {
        if (std::string why = monitor.check(step->loss); !why.empty()) {
          result.status = Status::diverged;
          result.best_restored = best.restore(store, opt_.threads);
          std::ostringstream s;
          s << "diverged at step " << step->step << ": " << why << "; rolled back to the best point (loss "
            << best.loss() << ", step " << best.step() << ")";
          result.message = s.str();
          break;
        }
      }
      if (!go_on) {
        result.status = why;
        result.message = why == Status::stopped ? "stopped by " + who + " after step " + std::to_string(step->step)
                                                : who;  // a status of the callback's own: its name() says why
        break;
      }
    }
    if (result.status == Status::running) {
      result.status = Status::max_steps;
      result.message = "reached max_steps = " + std::to_string(opt_.max_steps);
    }
    const bool failed = result.status == Status::non_finite_loss || result.status == Status::diverged;
    const bool final_fits = opt_.max_evaluations == 0 || state_.evaluations < opt_.max_evaluations;
    if (opt_.evaluate_final && !failed && final_fits) {
      result.last_loss = evaluate(f, params);
      ++state_.evaluations;
      best.offer(store, result.last_loss, state_.step);
    }
    result.loss = result.last_loss;
    if (keep && !result.best_restored) result.best_restored = best.restore(store, opt_.threads);
    if (result.best_restored) result.loss = best.loss();
    result.best_loss = best.loss();
    result.best_step = best.step();
    result.steps = state_.step - begin.step;
    result.evaluations = state_.evaluations - begin.evaluations;
    result.seconds = run_seconds(run);
    (detail::call_end(callbacks, result), ...);
    return result;
  }

  static double run_seconds(const Run<E, R>& run) { return run.seconds(); }

  // One batch of a step: the points of its current phase (at most `copies.size()`), each captured into its copy,
  // evaluated concurrently, told in order; the counted losses are offered to the best point from their copies.
  template <class Par, class C>
  static std::optional<StepInfo> parallel_step(const Par& par, detail::PointCopies<C>& copies, Run<E, R>& run,
                                               BestPoint& best, std::vector<double>& losses) {
    int k = 0;
    const int n = run.ask_batch([&](const Ask&) { copies.capture(k++, run.store()); }, copies.size());
    detail::evaluate_concurrently(n, losses, [&](int i) { return static_cast<double>(par.eval(copies.copy(i))); });
    const std::uint64_t t = run.step(), before = run.state().evaluations;
    std::optional<StepInfo> step = run.tell_batch(std::span<const double>(losses).first(static_cast<std::size_t>(n)));
    const auto told = static_cast<int>(run.state().evaluations - before);
    for (int i = 0; i < told; ++i) best.offer(copies.view(i), losses[static_cast<std::size_t>(i)], t);
    return step;
  }

  Options opt_;
  E est_;
  R rule_;
  RunState state_{};
};

/// MeZO's ZO-SGD: two-sided RGE with Gaussian directions and the plain update.
using ZOSGD = Optimizer<RGE, Identity>;

}  // namespace zeroth
