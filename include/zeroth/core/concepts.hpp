#pragma once
// The policy axes as C++20 concepts: what an estimator, a preconditioner, a store and an objective must provide.
#include <concepts>
#include <cstdint>
#include <span>

#include "zeroth/preconditioners/update_context.hpp"
#include "zeroth/random/direction.hpp"
#include "zeroth/stores/buffer_store.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// A gradient estimator: where to evaluate within a step, and the projected gradients from the losses.
template <class E>
concept Estimator = requires(const E e, int j, std::span<double> out, std::span<const double> loss, double eps) {
  { e.directions() } -> std::convertible_to<int>;
  { e.evaluations() } -> std::convertible_to<int>;
  { e.direction() } -> std::same_as<Direction>;
  e.point(j, out);
  e.estimate(loss, eps, out);
};

/// The number of scalars an estimator's estimate() writes: g_1..g_q, then any extras it declares with scalars()
/// (a three-point estimator adds one curvature value per direction).
template <class E>
int scalar_count(const E& e) {
  if constexpr (requires { e.scalars(); })
    return e.scalars();
  else
    return e.directions();
}

/// A preconditioner / update rule: moves the parameters from the last evaluated point to the updated ones. C is the
/// context it is given: UpdateContext on the host, gpu::UpdateContext for a device rule (zeroth/cuda/fused.cuh).
template <class R, class C = UpdateContext>
concept Preconditioner = requires(R r, C& c) {
  { r.update(c) } -> std::same_as<SweepStats>;
  { R::name } -> std::convertible_to<const char*>;
};

/// A rule that declares `needs_curvature` (HiZOO's Hessian) needs an estimator that declares `reports_curvature`.
template <class E, class R>
concept CurvatureCompatible = !requires { R::needs_curvature; } || requires { E::reports_curvature; };

/// A rule with a candidate phase: after the estimate it asks for candidates() more evaluations, at the points
/// candidate(j, c) moves to (from the step's snapshot), and keeps choose(losses) (ZO-SGD-Cons). The Run records the
/// kept index as one more scalar after the estimator's.
template <class R>
concept CandidateRule = requires(R r, const R cr, int j, UpdateContext& c, std::span<const double> loss) {
  { cr.candidates() } -> std::convertible_to<int>;
  { r.candidate(j, c) } -> std::same_as<SweepStats>;
  { r.choose(loss) } -> std::convertible_to<int>;
};

/// The scalars a step records (StepInfo::projected_gradient, trajectories): the estimator's, then a candidate rule's
/// choice.
template <class R, class E>
int recorded_scalars(const E& e) {
  return scalar_count(e) + (CandidateRule<R> ? 1 : 0);
}

/// A host parameter store: named blocks and the chunks sweeps run over.
template <class S>
concept HostStore = std::derived_from<S, BufferStore>;

/// An objective evaluated at the parameters `p` (or reading them itself, if it takes no argument).
template <class F, class P>
concept Objective = requires(F f, P& p) {
  { f(p) } -> std::convertible_to<double>;
} || requires(F f) {
  { f() } -> std::convertible_to<double>;
};

/// An objective over minibatches: next_batch(step) picks the batch both evaluations of a step see.
template <class F>
concept MinibatchObjective = requires(F f, std::uint64_t step) { f.next_batch(step); };

}  // namespace zeroth
