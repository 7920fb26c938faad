// CMA-ES (zeroth/evolution/cmaes.hpp) and zeroth::minimize's choice of it: convergence on the tutorial's test
// functions, the exact budget, the best point, bounds, parallel = sequential bits, the overloads and the errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <span>
#include <vector>

#include <zeroth/zeroth.hpp>

using namespace zeroth;

namespace {

double sphere(const double* x, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

double rosenbrock(const double* x, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) s += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  return s;
}

// An ellipsoid rotated so its axes couple every pair of coordinates: f(x) = sum_i 10^(6 i/(n-1)) (Rx)_i^2 with R a
// fixed Householder reflection.
double rotated_ellipsoid(const double* x, std::size_t n) {
  const double inv = 1.0 / std::sqrt(double(n));
  double dot = 0;
  for (std::size_t i = 0; i < n; ++i) dot += x[i] * inv;
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double y = x[i] - 2 * dot * inv;
    s += std::pow(10.0, 6.0 * double(i) / double(n - 1)) * y * y;
  }
  return s;
}

template <class V>
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(a[0]) * a.size()) == 0;
}

}  // namespace

TEST_CASE("CMA-ES converges on the sphere, Rosenbrock and a rotated ill-conditioned ellipsoid", "[cmaes]") {
  std::vector<double> x(10, 1.0);
  Result r = CMAES({.sigma0 = 0.5, .max_evaluations = 3000}).minimize(sphere, x.data(), x.size());
  CHECK(r.best_loss < 1e-10);
  CHECK(sphere(x.data(), x.size()) == r.best_loss);  // x holds the best point

  x.assign(10, 0.0);
  r = CMAES({.sigma0 = 0.5, .max_evaluations = 20000}).minimize(rosenbrock, x.data(), x.size());
  CHECK(r.best_loss < 1e-6);
  for (double v : x) CHECK(v == Approx(1.0).margin(1e-2));

  // Condition number 10^6 in a basis that couples every coordinate: the covariance must learn it (a diagonal or
  // isotropic method would need orders of magnitude more samples).
  x.assign(8, 1.0);
  CMAES es({.sigma0 = 0.5, .max_evaluations = 8000});
  r = es.minimize(rotated_ellipsoid, x.data(), x.size());
  CHECK(r.best_loss < 1e-8);
  const Eigen::VectorXd ev = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(es.covariance()).eigenvalues();
  CHECK(ev.maxCoeff() / ev.minCoeff() > 1e4);  // the learned shape: about the inverse Hessian's 10^6
}

TEST_CASE("CMA-ES spends exactly its budget in whole generations, and reports it", "[cmaes][budget]") {
  for (int lambda : {0, 6, 13}) {
    for (std::uint64_t budget : {20u, 97u, 500u}) {
      for (bool keep_best : {true, false}) {
        std::uint64_t calls = 0;
        auto f = [&](std::span<const double> s) {
          ++calls;
          return sphere(s.data(), s.size());
        };
        std::vector<double> x(7, 2.0);
        CMAES es({.population = lambda, .max_evaluations = budget, .keep_best = keep_best});
        const std::uint64_t lam = std::uint64_t(es.population(x.size()));  // 4 + floor(3 ln 7) = 9
        if (lambda == 0) CHECK(lam == 9);
        RunInfo seen;
        std::uint64_t steps = 0, last_evals = 0;
        struct Record {
          RunInfo* seen;
          std::uint64_t *steps, *last;
          void on_begin(const RunInfo& i) { *seen = i; }
          void on_step(const StepInfo& s) {
            ++*steps;
            *last = s.evaluations;
          }
        };
        const Result r = es.minimize(f, std::span<double>(x), Record{&seen, &steps, &last_evals});
        const std::uint64_t gens = (budget - (keep_best ? 0 : 1)) / lam;
        CHECK(calls == r.evaluations);
        CHECK(r.evaluations <= budget);
        CHECK(r.evaluations == gens * lam + (keep_best ? 0 : 1));
        CHECK(r.status == Status::max_evaluations);
        CHECK(r.steps == gens);
        CHECK(steps == gens);
        CHECK(last_evals == gens * lam);
        CHECK(seen.evaluations_per_step == int(lam));
        CHECK(seen.max_steps == gens);
        CHECK(seen.max_evaluations == budget);
        CHECK(seen.dimension == 7);
        if (keep_best) {
          CHECK(r.best_restored);
          CHECK(r.loss == r.best_loss);
          CHECK(sphere(x.data(), x.size()) == r.best_loss);
        } else {
          CHECK_FALSE(r.best_restored);
          CHECK(r.loss == sphere(x.data(), x.size()));  // the final mean, evaluated
          CHECK(r.best_loss <= r.loss);
        }
      }
    }
  }
  // A budget below one generation (lambda = 9 here), or no generation allowed: x itself is evaluated, once.
  for (auto o : {CMAES::Options{.max_evaluations = 8}, CMAES::Options{.max_evaluations = 100, .max_steps = 0}}) {
    std::vector<double> x(7, 2.0);
    const Result r = CMAES(o).minimize(sphere, x.data(), x.size());
    CHECK(r.status == (o.max_steps == 0 ? Status::max_steps : Status::max_evaluations));
    CHECK(r.steps == 0);
    CHECK(r.evaluations == 1);
    CHECK(r.loss == 28.0);
    CHECK(r.best_loss == 28.0);
    CHECK(r.best_restored);
    CHECK(x == std::vector<double>(7, 2.0));
  }
}

// The tutorial's update (arXiv 1604.00772, table 1, eqs. 39-47, 53) written out again, plainly: three generations of
// CMAES's ask() told sphere losses must leave the same mean, step size and covariance.
TEST_CASE("CMA-ES's update is the tutorial's, constant by constant", "[cmaes]") {
  const int n = 5, lambda = 4 + int(std::floor(3 * std::log(5.0))), mu = lambda / 2;  // lambda = 8
  Eigen::VectorXd w(lambda);
  for (int i = 0; i < lambda; ++i) w[i] = std::log((lambda + 1) / 2.0) - std::log(i + 1.0);
  const double sp = w.head(mu).sum(), sn = -w.tail(lambda - mu).sum();
  const double mueff = sp * sp / w.head(mu).squaredNorm(), mueffn = sn * sn / w.tail(lambda - mu).squaredNorm();
  const double c1 = 2 / ((n + 1.3) * (n + 1.3) + mueff);
  const double cmu = std::min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) * (n + 2) + 2 * mueff / 2));
  const double amin = std::min({1 + c1 / cmu, 1 + 2 * mueffn / (mueff + 2), (1 - c1 - cmu) / (n * cmu)});
  for (int i = 0; i < lambda; ++i) w[i] = i < mu ? w[i] / sp : amin * w[i] / sn;
  const double cs = (mueff + 2) / (n + mueff + 5), ds = 1 + 2 * std::max(0.0, std::sqrt((mueff - 1) / (n + 1)) - 1) + cs;
  const double cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n), chi = std::sqrt(n) * (1 - 1.0 / (4 * n) + 1.0 / (21 * n * n));

  Eigen::VectorXd m = Eigen::VectorXd::LinSpaced(n, -1, 1), pc = Eigen::VectorXd::Zero(n), ps = pc;
  Eigen::MatrixXd C = Eigen::MatrixXd::Identity(n, n);
  double sigma = 0.7;
  CMAES es({.sigma0 = 0.7, .max_evaluations = 1, .seed = 4});
  std::vector<double> x0(m.data(), m.data() + n), losses(lambda);
  es.start(x0);
  for (int g = 0; g < 3; ++g) {
    const Eigen::MatrixXd X = es.ask();
    REQUIRE(X.cols() == lambda);
    for (int k = 0; k < lambda; ++k) losses[k] = X.col(k).squaredNorm();
    es.tell(losses);
    std::vector<int> order(lambda);
    for (int k = 0; k < lambda; ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return losses[a] < losses[b]; });
    const Eigen::MatrixXd isqrt = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(C).operatorInverseSqrt();
    Eigen::VectorXd yw = Eigen::VectorXd::Zero(n);
    for (int i = 0; i < mu; ++i) yw += w[i] * (X.col(order[i]) - m) / sigma;
    Eigen::MatrixXd rank_mu = Eigen::MatrixXd::Zero(n, n);
    for (int i = 0; i < lambda; ++i) {
      const Eigen::VectorXd y = (X.col(order[i]) - m) / sigma;
      const double wo = w[i] >= 0 ? w[i] : w[i] * n / (isqrt * y).squaredNorm();
      rank_mu += wo * y * y.transpose();
    }
    m += sigma * yw;
    ps = (1 - cs) * ps + std::sqrt(cs * (2 - cs) * mueff) * isqrt * yw;
    const bool hs = ps.norm() / std::sqrt(1 - std::pow(1 - cs, 2 * (g + 1))) < (1.4 + 2.0 / (n + 1)) * chi;
    pc = (1 - cc) * pc + (hs ? std::sqrt(cc * (2 - cc) * mueff) : 0.0) * yw;
    C = (1 + c1 * (hs ? 0.0 : cc * (2 - cc)) - c1 - cmu * w.sum()) * C + c1 * pc * pc.transpose() + cmu * rank_mu;
    sigma *= std::exp(cs / ds * (ps.norm() / chi - 1));
    CHECK((es.mean() - m).norm() <= 1e-12 * (1 + m.norm()));
    CHECK(es.sigma() == Approx(sigma).epsilon(1e-12));
    CHECK((es.covariance() - C).norm() <= 1e-12 * C.norm());
  }
  CHECK(es.generation() == 3);
}

TEST_CASE("CMA-ES: same seed same bits, parallel evaluations the same bits, another seed other bits", "[cmaes]") {
  auto run = [](int parallel, std::uint64_t seed, std::vector<double>& x) {
    x.assign(12, 0.0);
    std::atomic<int> in_flight{0}, most{0};
    auto f = [&](const double* p, std::size_t n) {
      const int now = ++in_flight;
      int m = most.load();
      while (now > m && !most.compare_exchange_weak(m, now)) {
      }
      const double v = rosenbrock(p, n);
      --in_flight;
      return v;
    };
    const Result r = CMAES({.max_evaluations = 2000, .seed = seed, .parallel_evaluations = parallel})
                         .minimize(f, x.data(), x.size());
    return r.best_loss;
  };
  std::vector<double> a, b, c, d;
  const double la = run(1, 3, a), lb = run(4, 3, b), lc = run(1, 3, c), ld = run(1, 4, d);
  CHECK(same_bits(a, b));
  CHECK(same_bits(a, c));
  CHECK(la == lb);
  CHECK(la == lc);
  CHECK_FALSE(same_bits(a, d));
  CHECK(ld != la);
}

TEST_CASE("CMA-ES ask/tell takes the same samples and steps as minimize()", "[cmaes]") {
  std::vector<double> x(6, 1.0);
  CMAES a({.max_evaluations = 10 * 9, .seed = 2});  // lambda = 4 + floor(3 ln 6) = 9: 10 generations
  a.minimize(rosenbrock, x.data(), x.size());
  CMAES b({.max_evaluations = 1, .seed = 2});  // the budget is minimize()'s alone
  const std::vector<double> x0(6, 1.0);
  b.start(std::span<const double>(x0));
  std::vector<double> losses(9);
  for (int g = 0; g < 10; ++g) {
    const Eigen::MatrixXd& X = b.ask();
    REQUIRE(X.cols() == 9);
    CHECK(&b.ask() == &X);  // asking again: the same samples
    for (int k = 0; k < 9; ++k) losses[k] = rosenbrock(X.col(k).data(), 6);
    b.tell(losses);
  }
  CHECK(b.generation() == 10);
  CHECK(std::memcmp(a.mean().data(), b.mean().data(), sizeof(double) * 6) == 0);
  CHECK(a.sigma() == b.sigma());
  CHECK_THROWS_WITH(b.tell(losses), Catch::Contains("tell() without ask()"));
  b.ask();
  CHECK_THROWS_WITH(b.tell(std::vector<double>(3)), Catch::Contains("needs 9 losses (got 3)"));
  CHECK_THROWS_WITH(b.tell(std::vector<double>(9, NAN)), Catch::Contains("at least one finite loss"));
  CHECK_THROWS_WITH(CMAES({.max_evaluations = 1}).ask(), Catch::Contains("ask() before start()"));
}

TEST_CASE("CMA-ES keeps every sample inside the box and finds an optimum on its boundary", "[cmaes][bounds]") {
  bool outside = false;
  auto f = [&](std::span<const float> s) {
    double v = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] < -1.0f || s[i] > (i == 0 ? 0.25f : 3.0f)) outside = true;
      v += (s[i] + 2.0) * (s[i] + 2.0) + (i == 0 ? 10 * (s[i] - 1.0) * (s[i] - 1.0) : 0.0);
    }
    return v;
  };
  std::vector<float> x(6, 0.0f);
  std::vector<double> upper(6, 3.0);
  upper[0] = 0.25;
  const Result r = CMAES({.sigma0 = 2.0, .max_evaluations = 4000, .lower_bounds = {-1.0}, .upper_bounds = upper})
                       .minimize(f, std::span<float>(x));
  CHECK_FALSE(outside);
  CHECK(x[0] == Approx(0.25).margin(1e-3));
  // A bound that float cannot hold exactly (0.1): rounded inward, every sample and the result stay inside.
  bool above = false;
  auto g = [&](std::span<const float> v) {
    double t = 0;
    for (float e : v) {
      above = above || double(e) > 0.1;
      t += (e - 1.0) * (e - 1.0);
    }
    return t;
  };
  std::vector<float> z(5, 0.0f);
  CMAES({.sigma0 = 0.5, .max_evaluations = 2000, .upper_bounds = {0.1}}).minimize(g, std::span<float>(z));
  CHECK_FALSE(above);
  for (float e : z) CHECK(double(e) <= 0.1);
  CHECK(z[0] == Approx(0.1).margin(1e-6));  // pushed against its upper bound by the 10 (x0 - 1)^2 term
  for (std::size_t i = 1; i < x.size(); ++i) CHECK(x[i] == Approx(-1.0).margin(1e-3));
  CHECK(r.ok());
  std::vector<float> bad(6, 5.0f);
  CHECK_THROWS_WITH(CMAES({.max_evaluations = 100, .upper_bounds = {1.0}}).minimize(f, std::span<float>(bad)),
                    Catch::Contains("outside the bounds: element 0"));
  CHECK_THROWS_WITH(CMAES({.max_evaluations = 100, .upper_bounds = {1.0, 2.0}}).minimize(f, std::span<float>(bad)),
                    Catch::Contains("'upper_bounds' of CMAES::Options has 2 values"));
}

TEST_CASE("CMA-ES: the Eigen overloads take the same steps as the span one; errors name the option", "[cmaes]") {
  std::vector<double> v(5, 1.5);
  const Result a = CMAES({.max_evaluations = 300, .seed = 9}).minimize(sphere, v.data(), v.size());
  Eigen::VectorXd e = Eigen::VectorXd::Constant(5, 1.5);
  const Result b =
      CMAES({.max_evaluations = 300, .seed = 9}).minimize([](const Eigen::VectorXd& p) { return p.squaredNorm(); }, e);
  CHECK(std::memcmp(e.data(), v.data(), sizeof(double) * 5) == 0);
  CHECK(a.best_loss == b.best_loss);
  Eigen::VectorXd h = Eigen::VectorXd::Constant(5, 1.5);  // an f taking a non-const reference
  CMAES({.max_evaluations = 300, .seed = 9}).minimize([](Eigen::VectorXd& p) { return p.squaredNorm(); }, h);
  CHECK(std::memcmp(h.data(), v.data(), sizeof(double) * 5) == 0);
  Eigen::VectorXd g = Eigen::VectorXd::Constant(5, 1.5);
  const Result c = CMAES({.max_evaluations = 300, .seed = 9}).minimize([&] { return g.squaredNorm(); }, g);
  CHECK(std::memcmp(g.data(), v.data(), sizeof(double) * 5) == 0);
  CHECK(c.best_loss == a.best_loss);
  CHECK_THROWS_WITH(CMAES({.max_evaluations = 300, .parallel_evaluations = 2}).minimize([&] { return g.norm(); }, g),
                    Catch::Contains("parallel_evaluations"));
  CHECK_THROWS_WITH(CMAES({.sigma0 = 0}), Catch::Contains("'sigma0'"));
  CHECK_THROWS_WITH(CMAES({.population = 1, .max_evaluations = 10}), Catch::Contains("'population'"));
  CHECK_THROWS_WITH(CMAES(CMAES::Options{}), Catch::Contains("'max_evaluations'"));
}

TEST_CASE("CMA-ES stops when its samples no longer differ, and when every loss is NaN", "[cmaes]") {
  std::vector<double> x(4, 1.0);
  const Result r = CMAES({.max_evaluations = 100000, .tolerance = 1e-9}).minimize(sphere, x.data(), x.size());
  CHECK(r.status == Status::converged);
  CHECK(r.ok());
  CHECK(r.evaluations < 100000);
  CHECK(r.best_loss < 1e-15);
  // NaN ranks last: a NaN half-space does not stop it...
  x.assign(4, 1.0);
  auto half = [](const double* p, std::size_t n) { return p[0] < 0.5 ? NAN : sphere(p, n) + 1.0; };
  const Result h = CMAES({.sigma0 = 0.3, .max_evaluations = 3000}).minimize(half, x.data(), x.size());
  CHECK(h.status == Status::max_evaluations);
  CHECK(x[0] >= 0.5);
  CHECK(h.best_loss == Approx(1.25).margin(1e-3));
  // ...a generation with nothing finite does.
  auto nan = [](const double*, std::size_t) { return NAN; };
  std::uint64_t calls = 0;
  Eigen::VectorXd e = Eigen::VectorXd::Constant(4, 0.75);
  auto nan_reading_x = [&] {  // f() reads x, so x is overwritten by every sample; it must come back
    ++calls;
    return NAN;
  };
  bool rolled_back = false;
  const Result n = CMAES({.max_evaluations = 8}).minimize(nan_reading_x, e,
                                                          [&](const StepInfo& s) { rolled_back = s.rolled_back; });
  CHECK(rolled_back);
  CHECK(n.message.find("every sample of generation 0") != std::string::npos);
  CHECK(n.status == Status::non_finite_loss);
  CHECK(n.steps == 1);
  CHECK(calls == 8);  // lambda = 8 at d = 4, and no evaluation past the budget
  CHECK(n.evaluations == 8);
  CHECK(std::isnan(n.loss));
  CHECK_FALSE(n.best_restored);
  CHECK((e.array() == 0.75).all());
  const Result m = CMAES({.max_evaluations = 3000}).minimize(nan, x.data(), x.size());
  CHECK(m.status == Status::non_finite_loss);
}

TEST_CASE("zeroth::minimize runs CMA-ES up to kCMAESMaxDimension coordinates and FZOO above", "[cmaes][minimize]") {
  struct Seen {
    int* per_step;
    void on_begin(const RunInfo& i) { *per_step = i.evaluations_per_step; }
  };
  int per_step = 0;
  std::vector<double> x(kCMAESMaxDimension, 1.0);
  Result r = zeroth::minimize(sphere, x.data(), x.size(), {.max_evaluations = 400}, Seen{&per_step});
  CHECK(per_step == 4 + int(std::floor(3 * std::log(double(kCMAESMaxDimension)))));  // CMA-ES's lambda
  CHECK(r.message.find("CMA-ES") == 0);
  x.assign(kCMAESMaxDimension + 1, 1.0);
  r = zeroth::minimize(sphere, x.data(), x.size(), {.max_evaluations = 400}, Seen{&per_step});
  CHECK(per_step == 9);  // FZOO: 8 directions and the base point
  x.assign(10, 1.0);
  r = zeroth::minimize(sphere, x.data(), x.size(), {.max_evaluations = 400, .method = BlackBoxMethod::fzoo},
                       Seen{&per_step});
  CHECK(per_step == 9);
  // A callback that takes the run (a TrajectoryRecorder) has FZOO run at any d; asking for CMA-ES with one is refused.
  const auto path = std::filesystem::temp_directory_path() / "zeroth_cmaes_trajectory.bin";
  x.assign(10, 1.0);
  r = zeroth::minimize(sphere, x.data(), x.size(), {.max_evaluations = 400}, Seen{&per_step}, TrajectoryRecorder(path));
  CHECK(per_step == 9);
  CHECK_THROWS_WITH(zeroth::minimize(sphere, x.data(), x.size(), {.max_evaluations = 400, .method = BlackBoxMethod::cmaes},
                                     TrajectoryRecorder(path)),
                    Catch::Contains("only FZOO has"));
  std::filesystem::remove(path);
  // The defaults, untuned, on Rosenbrock d = 10 from 0 (the convergence benchmark's problem).
  x.assign(10, 0.0);
  r = zeroth::minimize(rosenbrock, x.data(), x.size(), {.max_evaluations = 20000});
  CHECK(r.best_loss < 1e-2);
}
