// RGE: unbiasedness and variance against the analytic gradient, with bounds that shrink like 1/sqrt(N).
#include <catch2/catch.hpp>

#include <cmath>

#include <zeroth/zeroth.hpp>

using namespace zeroth;

namespace {
// f(x) = 1/2 x'Hx + b'x with H diagonal: the central difference is exact, so g_k = grad . z_k.
struct Quadratic {
  Eigen::VectorXd h, b;
  double operator()(const Eigen::VectorXd& x) const { return 0.5 * (h.array() * x.array().square()).sum() + b.dot(x); }
  Eigen::VectorXd grad(const Eigen::VectorXd& x) const { return (h.array() * x.array()).matrix() + b; }
};

// Runs N steps with lr = 1 from the same x0, reading each step's estimate off the update x0 - x1.
Eigen::MatrixXd estimates(const Quadratic& f, const Eigen::VectorXd& x0, RGE::Options ro, int n) {
  Optimizer<RGE, Identity> opt({.learning_rate = 1.0, .epsilon = 1e-4, .max_steps = std::uint64_t(n), .seed = 17},
                               RGE(ro));
  Eigen::VectorXd x = x0;
  EigenStore store(x);
  auto run = opt.run(store);
  Eigen::MatrixXd est(x0.size(), n);
  for (int s = 0; s < n; ++s) {
    std::optional<StepInfo> info;
    while (!info) {
      run.ask();
      info = run.tell(f(x));
    }
    est.col(s) = x0 - x;
    x = x0;
  }
  return est;
}
}  // namespace

TEST_CASE("two-sided Gaussian RGE is unbiased with the analytic variance |a|^2 + a_i^2", "[rge]") {
  const int d = 16, n = 20000;
  Quadratic f{Eigen::VectorXd::LinSpaced(d, 1, 10), Eigen::VectorXd::LinSpaced(d, -1, 1)};
  Eigen::VectorXd x0 = Eigen::VectorXd::LinSpaced(d, 0.5, -0.3);
  const Eigen::VectorXd a = f.grad(x0);
  const Eigen::MatrixXd e = estimates(f, x0, {.directions = 1}, n);
  const Eigen::VectorXd mean = e.rowwise().mean();
  for (int i = 0; i < d; ++i) {
    const double var = a.squaredNorm() + a[i] * a[i];
    INFO("coordinate " << i);
    CHECK(std::abs(mean[i] - a[i]) < 5 * std::sqrt(var / n));
    const double sample_var = (e.row(i).array() - mean[i]).square().sum() / (n - 1);
    // var of a sample variance ~ 2 var^2 / n for near-Gaussian data; allow heavier tails (kurtosis) with 10x.
    CHECK(std::abs(sample_var - var) < 10 * var * std::sqrt(2.0 / n));
  }
}

TEST_CASE("every direction kind and one-sided RGE are unbiased; q directions divide the variance by q", "[rge]") {
  const int d = 8, n = 8000;
  Quadratic f{Eigen::VectorXd::LinSpaced(d, 1, 4), Eigen::VectorXd::Constant(d, 0.3)};
  Eigen::VectorXd x0 = Eigen::VectorXd::LinSpaced(d, 1, -1);
  const Eigen::VectorXd a = f.grad(x0);
  double var1 = 0;
  for (auto [kind, one_sided, q] : {std::tuple{Direction::gaussian, true, 1}, std::tuple{Direction::rademacher, false, 1},
                                    std::tuple{Direction::sphere, false, 1}, std::tuple{Direction::gaussian, false, 4},
                                    std::tuple{Direction::gaussian, false, 1}}) {
    const Eigen::MatrixXd e = estimates(f, x0, {.directions = q, .direction = kind, .one_sided = one_sided}, n);
    const Eigen::VectorXd mean = e.rowwise().mean();
    const Eigen::VectorXd var = (e.colwise() - mean).array().square().rowwise().sum() / (n - 1);
    INFO(to_string(kind) << (one_sided ? " one-sided" : " two-sided") << " q=" << q);
    for (int i = 0; i < d; ++i) CHECK(std::abs(mean[i] - a[i]) < 5 * std::sqrt(var[i] / n));
    if (kind == Direction::rademacher)  // analytic: sum_{j != i} a_j^2
      for (int i = 0; i < d; ++i) CHECK(var[i] == Approx(a.squaredNorm() - a[i] * a[i]).epsilon(0.15));
    if (kind == Direction::gaussian && !one_sided && q == 4) var1 = var.sum();
    if (kind == Direction::gaussian && !one_sided && q == 1) CHECK(var.sum() / var1 == Approx(4.0).epsilon(0.15));
  }
}
