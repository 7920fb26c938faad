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

/// A preconditioner / update rule: moves the parameters from the last evaluated point to the updated ones.
template <class R>
concept Preconditioner = requires(R r, UpdateContext& c) {
  { r.update(c) } -> std::same_as<SweepStats>;
  { R::name } -> std::convertible_to<const char*>;
};

/// A rule that declares `needs_curvature` (HiZOO's Hessian) needs an estimator that declares `reports_curvature`.
template <class E, class R>
concept CurvatureCompatible = !requires { R::needs_curvature; } || requires { E::reports_curvature; };

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
