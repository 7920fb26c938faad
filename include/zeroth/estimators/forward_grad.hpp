#pragma once
// Forward-Grad (Baydin et al., in ZO-Bench): the exact directional derivative along z by forward-mode AD, one
// evaluation per direction, g-hat = (1/q) sum_k (grad f . z_k) z_k. Not gradient-free: the objective must be written
// generically over its scalar type (evaluated on dual numbers) or a backend must supply its own JVP.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "zeroth/estimators/dual.hpp"
#include "zeroth/optimizer/run.hpp"
#include "zeroth/random/direction.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// Directions as RGE's, measured by JVPs instead of finite differences: the evaluations of a step do not move the
/// parameters (every point() is x), and the values told for them are g_k = grad f(x) . (n_k z_k). minimize() on an
/// Eigen object evaluates a generic objective on duals (forward_grad_step); through ask/tell, a backend tells its own
/// JVP along z(seeds[k]) for evaluation k. Unbiased; no eps; q evaluations and 1 sweep per step.
///   auto f = [](const auto& x) { return (x.array() - 1.0).square().sum(); };
///   zeroth::ForwardGradSGD({.learning_rate = 1e-2}).minimize(f, x);
class ForwardGrad {
 public:
  static constexpr bool forward_mode = true;
  struct Options {
    int directions = 1;
    Direction direction = Direction::gaussian;
  };

  ForwardGrad() = default;
  explicit ForwardGrad(Options o) : o_(o) {
    if (o_.directions < 1 || o_.directions > static_cast<int>(kMaxSweepTerms))
      throw std::invalid_argument("zeroth: 'ForwardGrad::Options::directions' must be in [1, " +
                                  std::to_string(kMaxSweepTerms) + "] (got " + std::to_string(o_.directions) + ")");
  }

  int directions() const noexcept { return o_.directions; }
  int evaluations() const noexcept { return o_.directions; }
  Direction direction() const noexcept { return o_.direction; }
  void point(int, std::span<double> offset) const noexcept { std::fill(offset.begin(), offset.end(), 0.0); }
  /// The told values are the directional derivatives themselves.
  void estimate(std::span<const double> jvp, double, std::span<double> g) const noexcept {
    std::copy_n(jvp.begin(), o_.directions, g.begin());
  }

 private:
  Options o_{};
};

/// One forward-grad step of `run` (over an EigenStore of `x` alone): evaluates f on x + e n_k z_k in duals for each
/// direction k that owns(k) (all, by default), lets combine(jvp, loss) fill in the others (the directions other
/// processes measured: zeroth/distributed), tells the JVPs, then finishes any candidate phase with plain evaluations.
/// Returns the step's summary.
template <class F, class X, class E, class R, class Owns, class Combine>
StepInfo forward_grad_step(F& f, X& x, Run<E, R>& run, Owns&& owns, Combine&& combine) {
  using T = typename X::Scalar;
  using D = Dual<T>;
  using DX = Eigen::Matrix<D, X::RowsAtCompileTime, X::ColsAtCompileTime>;
  static_assert(requires(F& g, const DX& v) { g(v); },
                "zeroth: forward-grad evaluates the objective on dual numbers: write it generically, "
                "[](const auto& x) { ... }, over the scalar type of x; for an objective that only takes float or "
                "double (a black box), use an RGE estimator instead (zeroth::ZOSGD, ZOAdam, ...)");
  using Out = std::remove_cvref_t<decltype(f(std::declval<const DX&>()))>;
  static_assert(is_dual<Out>::value, "zeroth: a forward-grad objective must return its scalar type (a zeroth::Dual "
                                     "when evaluated on duals), not a plain number; for a black-box objective, use "
                                     "an RGE estimator instead (zeroth::ZOSGD, ZOAdam, ...)");
  if (run.store().blocks().size() != 1 || run.store().blocks()[0].data != static_cast<void*>(x.data()))
    throw std::logic_error("zeroth: forward_grad_step needs a run over a store of x alone");
  const auto dirs = run.begin_directional();
  ElementMask mask;
  if constexpr (requires { run.estimator().masks(); }) mask = run.estimator().masks().mask;
  const std::size_t n = static_cast<std::size_t>(x.size());
  DX xd(x.rows(), x.cols());
  std::vector<double> jvp(dirs.seeds.size());
  double loss = 0;
  alignas(64) float z[random::kGroup];
  for (std::size_t k = 0; k < dirs.seeds.size(); ++k) {
    if (!owns(k)) continue;
    for (std::size_t g = 0; g * random::kGroup < n; ++g) {
      random::direction_group(dirs.kind, dirs.seeds[k], 0, g, z);
      const std::uint64_t m = mask.empty() ? ~std::uint64_t{0} : mask.group_bits(0, g);
      for (std::size_t i = g * random::kGroup; i < std::min(n, (g + 1) * random::kGroup); ++i) {
        const bool on = (m >> (i % random::kGroup)) & 1u;
        xd.data()[i] = D(x.data()[i], on ? static_cast<T>(dirs.norms[k] * z[i % random::kGroup]) : T(0));
      }
    }
    const D out = f(std::as_const(xd));
    jvp[k] = static_cast<double>(out.d);
    loss = static_cast<double>(out.v);  // f(x), whatever the tangent
  }
  combine(std::span<double>(jvp), loss);
  std::optional<StepInfo> info = run.tell_directional(jvp, loss);
  while (!info) {  // a candidate phase (ZO-SGD-Cons): plain evaluations
    run.ask();
    info = run.tell(static_cast<double>(f(std::as_const(x))));
  }
  return *info;
}

template <class F, class X, class E, class R>
StepInfo forward_grad_step(F& f, X& x, Run<E, R>& run) {
  return forward_grad_step(f, x, run, [](std::size_t) { return true; }, [](std::span<double>, double&) {});
}

}  // namespace zeroth
