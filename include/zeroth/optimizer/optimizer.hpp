#pragma once
// Optimizer<Estimator, Preconditioner>: minimize(objective, params, callbacks...) and ask/tell runs.
#include <concepts>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "zeroth/core/concepts.hpp"
#include "zeroth/estimators/forward_grad.hpp"
#include "zeroth/estimators/rge.hpp"
#include "zeroth/optimizer/callback_dispatch.hpp"
#include "zeroth/optimizer/options.hpp"
#include "zeroth/optimizer/result.hpp"
#include "zeroth/optimizer/run.hpp"
#include "zeroth/preconditioners/identity.hpp"
#include "zeroth/stores/eigen_store.hpp"

namespace zeroth {

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
  Result minimize(F&& f, P& params, Callbacks&&... callbacks) {
    static_assert(Objective<F, P>, "zeroth: the objective must be callable as f(params) or f(), returning a "
                                   "number convertible to double");
    if constexpr (std::derived_from<P, BufferStore>) {
      static_assert(!requires { E::forward_mode; },
                    "zeroth: forward-grad evaluates the objective on dual numbers, so minimize() needs an Eigen vector "
                    "or matrix and a generic objective; over a BufferStore, tell JVPs through run() instead");
      return minimize_store(f, params, params, callbacks...);
    } else {
      static_assert(std::is_base_of_v<Eigen::PlainObjectBase<P>, P>,
                    "zeroth: params must be an Eigen vector or matrix, or a zeroth::BufferStore");
      EigenStore store(params);
      return minimize_store(f, params, store, callbacks...);
    }
  }

  /// An ask/tell run over `store`, continuing from state().
  Run<E, R> run(BufferStore& store) { return Run<E, R>(store, opt_, est_, rule_, state_); }

  const Options& options() const noexcept { return opt_; }
  const E& estimator() const noexcept { return est_; }
  R& preconditioner() noexcept { return rule_; }
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

  template <class F, class P, class... Callbacks>
  Result minimize_store(F& f, P& params, BufferStore& store, Callbacks&... callbacks) {
    Run<E, R> run(store, opt_, est_, rule_, state_);
    const RunState begin = state_;
    Result result;
    [[maybe_unused]] RunInfo info{store.dimension(), opt_.max_steps, begin.step, est_.evaluations()};
    (detail::call_begin(callbacks, info), ...);
    while (run.step() < opt_.max_steps) {
      if constexpr (MinibatchObjective<F>) f.next_batch(run.step());
      std::optional<StepInfo> step;
      if constexpr (requires { E::forward_mode; }) {
        if constexpr (!std::derived_from<P, BufferStore>) step = forward_grad_step(f, params, run);
      } else {
        while (!step) {
          run.ask();
          step = run.tell(evaluate(f, params));
        }
      }
      state_ = run.state();
      result.loss = step->loss;
      bool go_on = true;
      std::string who;
      Status why = Status::stopped;
      ((go_on = detail::call_step(callbacks, *step, run, who, why) && go_on), ...);
      if (step->rolled_back) {
        result.status = Status::non_finite_loss;
        result.message = "loss is not finite at step " + std::to_string(step->step) + " (evaluation " +
                         std::to_string(run.failed_evaluation()) + "); the step was rolled back";
        break;
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
    if (opt_.evaluate_final && result.status != Status::non_finite_loss) {
      result.loss = evaluate(f, params);
      ++state_.evaluations;
    }
    result.steps = state_.step - begin.step;
    result.evaluations = state_.evaluations - begin.evaluations;
    result.seconds = run_seconds(run);
    (detail::call_end(callbacks, result), ...);
    return result;
  }

  static double run_seconds(const Run<E, R>& run) { return run.seconds(); }

  Options opt_;
  E est_;
  R rule_;
  RunState state_{};
};

/// MeZO's ZO-SGD: two-sided RGE with Gaussian directions and the plain update.
using ZOSGD = Optimizer<RGE, Identity>;

}  // namespace zeroth
