#pragma once
// CMA-ES (Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv 1604.00772): the (mu/mu_w, lambda) evolution
// strategy with a full covariance matrix, cumulative step-size adaptation and the rank-one and rank-mu updates, at the
// tutorial's default constants. Derivative-free like the ZO methods, but it learns the problem's shape (the coupling of
// coordinates) in its covariance: the better black-box method at small d, at O(d^2) memory and an O(d^3)
// eigendecomposition every generation or few (zeroth::minimize picks it up to kCMAESMaxDimension).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "zeroth/optimizer/callback_dispatch.hpp"
#include "zeroth/optimizer/flat.hpp"
#include "zeroth/optimizer/parallel.hpp"
#include "zeroth/optimizer/result.hpp"
#include "zeroth/random/direction.hpp"
#include "zeroth/random/philox.hpp"
#include "zeroth/stores/block.hpp"

namespace zeroth {

/// The settings of CMAES (CMAES::Options).
struct CMAESOptions {
  /// The initial step size: the spread of the first samples around x, about a third of the range the optimum may
  /// lie in (pycma's sigma0; nevergrad's CMA uses 1).
  double sigma0 = 1.0;
  int population = 0;                 ///< lambda, samples a generation; 0: 4 + floor(3 ln d)
  std::uint64_t max_evaluations = 0;  ///< the budget (required): calls of f; the run stops at a generation boundary
  std::uint64_t max_steps = ~std::uint64_t{0};  ///< generations
  std::uint64_t seed = 0;
  /// Box bounds: one value for all coordinates, or one each. A sample outside is projected into the box before it
  /// is evaluated, and the update uses the projected point, so the mean stays inside.
  std::vector<double> lower_bounds{}, upper_bounds{};
  int parallel_evaluations = 1;  ///< for a thread-safe f: up to this many samples at once (the same bits as 1)
  /// Return the best sample evaluated (x holds it, loss = best_loss). Off: x holds the final mean, evaluated once
  /// more (within the budget) for Result::loss; better for a noisy objective, whose best sample is a low outlier.
  bool keep_best = true;
  /// Stop (Status::converged) once sigma sqrt(max C_ii) falls below this: the samples no longer differ.
  double tolerance = 1e-12;
};

/// CMA-ES over a float or double buffer, or an Eigen vector, in place. Each generation (a step for callbacks) samples
/// lambda points m + sigma B D z from counter-based Gaussians z(seed, generation, k), so a seed gives the same bits
/// whatever the threads; callbacks see the generation as the step, the mean of its finite losses as the loss, sigma as
/// the learning rate, and the parameters holding the mean m. Each minimize() starts afresh from x with sigma0.
///   zeroth::CMAES es({.sigma0 = 0.5, .max_evaluations = 20000});
///   zeroth::Result r = es.minimize(rosenbrock, x.data(), x.size());  // x: the best point evaluated
class CMAES {
 public:
  using Options = CMAESOptions;

  explicit CMAES(Options o = {}) : o_(std::move(o)) {
    if (!(o_.sigma0 > 0) || !std::isfinite(o_.sigma0))
      throw std::invalid_argument("zeroth::CMAES: 'sigma0' must be positive and finite (got " +
                                  std::to_string(o_.sigma0) + ")");
    if (o_.population == 1 || o_.population < 0)
      throw std::invalid_argument("zeroth::CMAES: 'population' must be 0 (the default) or at least 2 (got " +
                                  std::to_string(o_.population) + ")");
    if (o_.max_evaluations == 0)
      throw std::invalid_argument("zeroth::CMAES: 'max_evaluations' must be set: the budget, in calls of f");
    if (o_.parallel_evaluations < 1)
      throw std::invalid_argument("zeroth::CMAES: 'parallel_evaluations' must be >= 1 (got " +
                                  std::to_string(o_.parallel_evaluations) + ")");
    if (auto e = detail::check_bounds(o_.lower_bounds, o_.upper_bounds, 0, "CMAES::Options"); !e.empty())
      throw std::invalid_argument("zeroth: " + e);
  }

  const Options& options() const noexcept { return o_; }
  /// lambda for a problem of dimension d.
  int population(std::size_t d) const noexcept {
    return o_.population > 0
               ? o_.population
               : 4 + static_cast<int>(std::floor(3.0 * std::log(static_cast<double>(std::max<std::size_t>(d, 1)))));
  }
  /// ask/tell, pycma's interface, for evaluations the caller schedules: start(x0); then each generation ask() gives
  /// the lambda samples as the columns of a d x lambda matrix, and tell(losses) takes their losses in that order (a
  /// non-finite one ranks last). The same samples and updates as minimize(), which runs on them.
  ///   es.start(std::span<const double>(x0));
  ///   for (int g = 0; g < 100; ++g) {
  ///     const Eigen::MatrixXd& X = es.ask();
  ///     for (int k = 0; k < X.cols(); ++k) losses[k] = f(X.col(k).data(), X.rows());
  ///     es.tell(losses);
  ///   }
  template <FlatScalar T>
  void start(std::span<const T> x0) {
    const std::size_t d = x0.size();
    if (d == 0) throw std::invalid_argument("zeroth::CMAES: the parameters are empty");
    if (auto e = detail::check_bounds(o_.lower_bounds, o_.upper_bounds, d, "CMAES::Options"); !e.empty())
      throw std::invalid_argument("zeroth: " + e);
    for (std::size_t i = 0; i < d; ++i)
      if (!(x0[i] >= lo(i) && x0[i] <= hi(i)))
        throw std::invalid_argument("zeroth::CMAES: the starting point lies outside the bounds: element " +
                                    std::to_string(i) + " is " + std::to_string(double(x0[i])));
    setup(d, population(d));
    for (std::size_t i = 0; i < d; ++i) m_[static_cast<Eigen::Index>(i)] = static_cast<double>(x0[i]);
  }
  template <FlatScalar T>
  void start(const std::vector<T>& x0) {
    start(std::span<const T>(x0));
  }
  /// The samples of the current generation (d x lambda); asking again before tell() gives the same ones.
  const Eigen::MatrixXd& ask() {
    if (m_.size() == 0) throw std::logic_error("zeroth::CMAES: ask() before start()");
    if (!asked_) sample(generation_);
    asked_ = true;
    return X_;
  }
  /// Their losses, in the order of ask()'s columns: updates the distribution and moves to the next generation.
  void tell(std::span<const double> losses) {
    if (!asked_) throw std::logic_error("zeroth::CMAES: tell() without ask()");
    if (losses.size() != static_cast<std::size_t>(lambda_))
      throw std::invalid_argument("zeroth::CMAES: tell() needs " + std::to_string(lambda_) + " losses (got " +
                                  std::to_string(losses.size()) + ")");
    if (std::none_of(losses.begin(), losses.end(), [](double v) { return std::isfinite(v); }))
      throw std::invalid_argument("zeroth::CMAES: tell() needs at least one finite loss to rank the samples");
    update(generation_, losses);
    asked_ = false;
    ++generation_;
  }
  /// Generations told since start().
  std::uint64_t generation() const noexcept { return generation_; }

  /// The distribution after the last minimize(): mean, step size, covariance.
  const Eigen::VectorXd& mean() const noexcept { return m_; }
  double sigma() const noexcept { return sigma_; }
  const Eigen::MatrixXd& covariance() const noexcept { return C_; }

  /// Minimizes f (f(std::span<const T>), f(const T*, std::size_t) or f(const T*)) over the values of x in place.
  template <class F, FlatScalar T, class... Callbacks>
  Result minimize(F&& f, std::span<T> x, Callbacks&&... callbacks) {
    static_assert(FlatObjective<std::remove_reference_t<F>, T>,
                  "zeroth::CMAES: f must take std::span<const T>, (const T*, std::size_t) or (const T*) and return a "
                  "number");
    std::vector<std::vector<T>> points;
    auto evaluate = [&](int k) {
      return detail::FlatCall<std::remove_reference_t<F>, T>{f, std::span<T>(points[k])}();
    };
    auto make = [&] { return std::vector<T>(x.begin(), x.end()); };
    return run(f, x, points, make, evaluate, std::forward<Callbacks>(callbacks)...);
  }
  /// As above, over the n values at x.
  template <class F, FlatScalar T, class... Callbacks>
  Result minimize(F&& f, T* x, std::size_t n, Callbacks&&... callbacks) {
    return minimize(std::forward<F>(f), std::span<T>(x, n), std::forward<Callbacks>(callbacks)...);
  }
  /// As above, over an Eigen vector or matrix of float or double: f(x) on a copy per sample, or f() reading x (then
  /// the samples are evaluated one at a time in x).
  template <class F, class Derived, class... Callbacks>
    requires std::is_base_of_v<Eigen::PlainObjectBase<Derived>, Derived>
  Result minimize(F&& f, Derived& x, Callbacks&&... callbacks) {
    using T = typename Derived::Scalar;
    static_assert(FlatScalar<T>, "zeroth::CMAES: an Eigen object of float or double");
    std::span<T> flat(x.data(), static_cast<std::size_t>(x.size()));
    std::vector<Derived> points;
    auto make = [&] { return Derived(x); };
    if constexpr (requires { f(x); }) {
      auto evaluate = [&](int k) { return static_cast<double>(f(points[k])); };
      return run(f, flat, points, make, evaluate, std::forward<Callbacks>(callbacks)...);
    } else {
      static_assert(requires { f(); }, "zeroth::CMAES: f must take the Eigen object, or nothing (reading it)");
      if (o_.parallel_evaluations > 1)
        throw std::invalid_argument("zeroth::CMAES: 'parallel_evaluations' needs an f that takes the parameters; "
                                    "this f() reads x itself");
      auto evaluate = [&](int k) {
        x = points[k];
        return static_cast<double>(f());
      };
      return run(f, flat, points, make, evaluate, std::forward<Callbacks>(callbacks)...);
    }
  }

 private:
  bool boxed() const noexcept { return !o_.lower_bounds.empty() || !o_.upper_bounds.empty(); }

  // Tutorial, table 1 and eq. 53: the weights (the lambda - mu worst negative: active CMA, as pycma's default),
  // learning rates and damping for dimension d and population lambda.
  void setup(std::size_t d, int lambda) {
    d_ = static_cast<double>(d);
    lambda_ = lambda;
    mu_ = lambda / 2;
    w_.resize(lambda);
    for (int i = 0; i < lambda; ++i) w_[i] = std::log((lambda + 1) / 2.0) - std::log(i + 1.0);
    const double pos = w_.head(mu_).sum(), neg = -w_.tail(lambda - mu_).sum();
    mueff_ = pos * pos / w_.head(mu_).squaredNorm();
    const double mueff_neg = neg * neg / std::max(1e-300, w_.tail(lambda - mu_).squaredNorm());
    cs_ = (mueff_ + 2) / (d_ + mueff_ + 5);
    ds_ = 1 + 2 * std::max(0.0, std::sqrt((mueff_ - 1) / (d_ + 1)) - 1) + cs_;
    cc_ = (4 + mueff_ / d_) / (d_ + 4 + 2 * mueff_ / d_);
    c1_ = 2 / ((d_ + 1.3) * (d_ + 1.3) + mueff_);
    cmu_ = std::min(1 - c1_, 2 * (mueff_ - 2 + 1 / mueff_) / ((d_ + 2) * (d_ + 2) + mueff_));
    const double scale_neg =
        std::min({1 + c1_ / cmu_, 1 + 2 * mueff_neg / (mueff_ + 2), (1 - c1_ - cmu_) / (d_ * cmu_)});
    w_.head(mu_) /= pos;
    // In a box the projected samples crowd its faces, and the negative update would shrink the variance across a face
    // before the mean reaches it: positive weights only there.
    if (neg > 0 && !boxed())
      w_.tail(lambda - mu_) *= scale_neg / neg;
    else
      w_.tail(lambda - mu_).setZero();
    chi_ = std::sqrt(d_) * (1 - 1 / (4 * d_) + 1 / (21 * d_ * d_));
    // Decompose C again once the updates since the last one could have changed it by about a tenth.
    eigen_every_ = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(1 / ((c1_ + cmu_) * d_ * 10)));
    sigma_ = o_.sigma0;
    generation_ = 0;
    asked_ = false;
    m_ = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(d));
    X_.resize(static_cast<Eigen::Index>(d), lambda);
    Y_.resize(static_cast<Eigen::Index>(d), lambda);
    Z_.resize(static_cast<Eigen::Index>(d), lambda);
    C_ = Eigen::MatrixXd::Identity(d, d);
    B_ = C_;
    D_ = Eigen::VectorXd::Ones(d);
    pc_ = ps_ = Eigen::VectorXd::Zero(d);
  }

  double lo(std::size_t i) const {
    return o_.lower_bounds.empty() ? -INFINITY : o_.lower_bounds[o_.lower_bounds.size() == 1 ? 0 : i];
  }
  double hi(std::size_t i) const {
    return o_.upper_bounds.empty() ? INFINITY : o_.upper_bounds[o_.upper_bounds.size() == 1 ? 0 : i];
  }

  // Samples generation g: X = m + sigma Y with Y = B D z (projected into the box where there is one), and Z.
  void sample(std::uint64_t g) {
    const std::size_t d = static_cast<std::size_t>(m_.size());
    std::vector<float> groups((d + random::kGroup - 1) / random::kGroup * random::kGroup);
    for (int k = 0; k < lambda_; ++k) {
      const std::uint64_t seed = random::step_seed(o_.seed, g, static_cast<std::uint32_t>(k));
      for (std::size_t gr = 0; gr < groups.size() / random::kGroup; ++gr)
        random::gaussian_group(seed, 0, gr, groups.data() + gr * random::kGroup);
      for (std::size_t i = 0; i < d; ++i) Z_(static_cast<Eigen::Index>(i), k) = groups[i];
      Y_.col(k).noalias() = B_ * D_.cwiseProduct(Z_.col(k));
      X_.col(k) = m_ + sigma_ * Y_.col(k);
      if (!boxed()) continue;
      bool moved = false;
      for (std::size_t i = 0; i < d; ++i) {
        const auto r = static_cast<Eigen::Index>(i);
        const double v = X_(r, k), c = std::clamp(v, lo(i), hi(i));
        if (c != v) {
          X_(r, k) = c;
          Y_(r, k) = (c - m_[r]) / sigma_;
          moved = true;
        }
      }
      if (moved) Z_.col(k).noalias() = D_.cwiseInverse().cwiseProduct(B_.transpose() * Y_.col(k));
    }
  }

  // The tutorial's update from the generation's losses (non-finite ones rank last).
  void update(std::uint64_t g, std::span<const double> losses) {
    const Eigen::MatrixXd &Y = Y_, &Z = Z_;
    std::vector<int> order(static_cast<std::size_t>(lambda_));
    std::iota(order.begin(), order.end(), 0);
    auto key = [&](int k) { return std::isfinite(losses[k]) ? losses[k] : INFINITY; };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });
    Eigen::VectorXd yw = Eigen::VectorXd::Zero(m_.size()), zw = yw;
    for (int i = 0; i < mu_; ++i) {
      yw += w_[i] * Y.col(order[i]);
      zw += w_[i] * Z.col(order[i]);
    }
    m_ += sigma_ * yw;
    ps_ = (1 - cs_) * ps_ + std::sqrt(cs_ * (2 - cs_) * mueff_) * (B_ * zw);
    const double psn = ps_.norm();
    const bool hsig =
        psn / std::sqrt(1 - std::pow(1 - cs_, 2.0 * static_cast<double>(g + 1))) / chi_ < 1.4 + 2 / (d_ + 1);
    pc_ = (1 - cc_) * pc_ + (hsig ? std::sqrt(cc_ * (2 - cc_) * mueff_) : 0.0) * yw;
    C_ *= 1 - c1_ - cmu_ * w_.sum() + (hsig ? 0.0 : c1_ * cc_ * (2 - cc_));
    C_.noalias() += c1_ * pc_ * pc_.transpose();
    for (int i = 0; i < lambda_; ++i) {  // a negative weight is rescaled by d / |C^-1/2 y|^2 = d / |z|^2 (eq. 46)
      const auto y = Y.col(order[i]);
      const double zz = Z.col(order[i]).squaredNorm();
      const double wi = w_[i] >= 0 ? w_[i] : w_[i] * d_ / std::max(zz, 1e-300);
      C_.noalias() += (cmu_ * wi) * y * y.transpose();
    }
    sigma_ *= std::exp(std::min(1.0, (cs_ / ds_) * (psn / chi_ - 1)));
    if ((g + 1) % eigen_every_ == 0) {
      C_ = 0.5 * (C_ + C_.transpose()).eval();
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(C_);
      B_ = es.eigenvectors();
      D_ = es.eigenvalues().cwiseMax(1e-300).cwiseSqrt();
    }
  }

  // The run over the buffer x (T values) with `points` (lambda copies of make(), shaped as x) and evaluate(k), the
  // loss of points[k].
  template <class F, class T, class Points, class Make, class Evaluate, class... Callbacks>
  Result run(F& f, std::span<T> x, Points& points, Make& make, Evaluate& evaluate, Callbacks&&... callbacks) {
    static_assert((detail::StepCallback<std::remove_cvref_t<Callbacks>> && ...),
                  "zeroth::CMAES: its callbacks take a StepInfo (on_step(StepInfo), a lambda, on_begin, on_end); one "
                  "that takes the run (Checkpointer, TrajectoryRecorder) needs an Optimizer's Run");
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t d = x.size();
    start(std::span<const T>(x));
    const int lambda = lambda_;
    points.assign(static_cast<std::size_t>(lambda), make());
    std::vector<T> best(x.begin(), x.end());
    auto write = [&](std::span<T> to, const auto& v) {  // rounded to T, inward in a box
      for (std::size_t i = 0; i < d; ++i) {
        T c = static_cast<T>(v[static_cast<Eigen::Index>(i)]);
        if (static_cast<double>(c) < lo(i)) c = std::nextafter(c, std::numeric_limits<T>::infinity());
        if (static_cast<double>(c) > hi(i)) c = std::nextafter(c, -std::numeric_limits<T>::infinity());
        to[i] = c;
      }
    };
    auto data_of = [](auto& p) -> T* { return p.data(); };

    // Without keep_best one evaluation is kept for the final mean; a budget below one generation evaluates x alone.
    const std::uint64_t reserve = o_.keep_best ? 0 : 1;
    const std::uint64_t generations =
        std::min<std::uint64_t>(o_.max_steps, (o_.max_evaluations - reserve) / static_cast<std::uint64_t>(lambda));
    [[maybe_unused]] const RunInfo info{.dimension = d,
                                        .max_steps = generations,
                                        .first_step = 0,
                                        .evaluations_per_step = lambda,
                                        .max_evaluations = o_.max_evaluations};
    (detail::call_begin(callbacks, info), ...);

    Result r;
    std::vector<double> losses(static_cast<std::size_t>(lambda));
    const int width = std::min(o_.parallel_evaluations, lambda);
    [[maybe_unused]] detail::NoRun no_run;  // unused when there are no callbacks
    for (std::uint64_t g = 0;; ++g) {
      if (g >= generations) {
        r.status = g >= o_.max_steps ? Status::max_steps : Status::max_evaluations;
        break;
      }
      if constexpr (MinibatchObjective<F>) f.next_batch(g);
      const Eigen::MatrixXd& X = ask();
      for (int k = 0; k < lambda; ++k) write(std::span<T>(data_of(points[k]), d), X.col(k));
      for (int k = 0; k < lambda; k += width) {
        const int n = std::min(width, lambda - k);
        detail::evaluate_concurrently(n, std::span<double>(losses).subspan(k, n),
                                      [&](int i) { return evaluate(k + i); });
      }
      r.evaluations += static_cast<std::uint64_t>(lambda);
      double sum = 0;
      int finite = 0;
      for (int k = 0; k < lambda; ++k) {
        if (!std::isfinite(losses[k])) continue;
        sum += losses[k];
        ++finite;
        if (losses[k] < r.best_loss) {
          r.best_loss = losses[k];
          r.best_step = g;
          std::copy_n(data_of(points[k]), d, best.begin());
        }
      }
      r.steps = g + 1;
      if (finite > 0) tell(losses);
      write(x, m_);
      const StepInfo s{.step = g,
                       .seed = o_.seed,
                       .loss = finite > 0 ? sum / finite : NAN,
                       .learning_rate = sigma_,
                       .evaluations = r.evaluations,
                       .rolled_back = finite == 0,
                       .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
      std::string who;
      Status why = Status::stopped;
      bool go = true;
      ((go = detail::call_step(callbacks, s, no_run, who, why) && go), ...);
      r.last_loss = s.loss;
      if (finite == 0) {  // nothing to rank: the distribution stays, the run ends
        r.status = Status::non_finite_loss;
        r.message = "CMA-ES: every sample of generation ";
        r.message.append(std::to_string(g)).append(" evaluated to a non-finite loss");
        break;
      }
      if (!go) {
        r.status = why;
        if (why == Status::stopped)
          r.message.append("CMA-ES: stopped by ").append(who).append(" after generation ").append(std::to_string(g));
        else
          r.message = who;  // a status of the callback's own: its name() says why
        break;
      }
      if (sigma_ * std::sqrt(C_.diagonal().maxCoeff()) < o_.tolerance) {
        r.status = Status::converged;
        break;
      }
    }
    if (o_.keep_best && std::isfinite(r.best_loss)) {
      std::copy(best.begin(), best.end(), x.begin());
      r.loss = r.best_loss;
      r.best_restored = true;
    } else {  // the final mean (x itself if no generation ran), on an evaluation the budget still has
      write(x, m_);
      r.loss = r.last_loss = NAN;
      if (r.evaluations < o_.max_evaluations) {
        std::copy(x.begin(), x.end(), data_of(points.front()));
        r.loss = r.last_loss = evaluate(0);
        ++r.evaluations;
        if (std::isfinite(r.loss) && r.loss < r.best_loss) {
          r.best_loss = r.loss;
          r.best_step = r.steps;
          r.best_restored = o_.keep_best;  // the one finite evaluation: x holds it
        }
      }
    }
    if (r.message.empty())
      r.message.append("CMA-ES: ")
          .append(to_string(r.status))
          .append(" after ")
          .append(std::to_string(r.steps))
          .append(" generations of ")
          .append(std::to_string(lambda))
          .append(" samples");
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    (detail::call_end(callbacks, r), ...);
    return r;
  }


  Options o_;
  double d_ = 0, mueff_ = 0, cs_ = 0, ds_ = 0, cc_ = 0, c1_ = 0, cmu_ = 0, chi_ = 0, sigma_ = 0;
  int lambda_ = 0, mu_ = 0;
  std::uint64_t eigen_every_ = 1, generation_ = 0;
  bool asked_ = false;
  Eigen::VectorXd w_, m_, D_, pc_, ps_;
  Eigen::MatrixXd C_, B_, X_, Y_, Z_;
};

}  // namespace zeroth
