// Black-box runs (issue 12): the exact evaluation budget, RunInfo per method, the best point, the divergence guard, box
// bounds, the span / C-pointer overloads, and block-wise over a flat buffer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include <zeroth/zeroth.hpp>

#include "support/objectives.hpp"

using namespace zeroth;

namespace {

constexpr std::size_t kDim = 12;

using zeroth::testing::quadratic;  // f(x) = sum_i (1 + i % 3) (x_i - 0.5)^2

// A C function, as a black-box user would pass one.
double c_quadratic(const double* x, std::size_t n) { return quadratic(x, n); }

template <class V>
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(a[0]) * a.size()) == 0;
}

// The calls made between consecutive steps, and what on_begin said.
struct StepCalls {
  explicit StepCalls(const std::uint64_t* c) : calls(c) {}
  const std::uint64_t* calls;
  std::uint64_t last = 0;
  std::vector<std::uint64_t> per_step;
  RunInfo info{};
  void on_begin(const RunInfo& i) {
    info = i;
    last = *calls;
  }
  void on_step(const StepInfo&) {
    per_step.push_back(*calls - last);
    last = *calls;
  }
};

Options with(Options o, std::uint64_t max_evaluations, bool final) {
  o.max_evaluations = max_evaluations;
  o.evaluate_final = final;
  return o;
}

// Runs `make(options)` over a flat buffer with budget M and checks the budget to the call.
template <class Make>
void check_budget(const std::string& name, Make make, std::uint64_t per_step) {
  const Options base{.learning_rate = 1e-3, .epsilon = 1e-3, .max_steps = 1000000, .seed = 5};
  for (bool final : {true, false})
    for (std::uint64_t m : {std::uint64_t{1}, per_step, per_step + 1, std::uint64_t{97}, std::uint64_t{250}}) {
      std::vector<double> x(kDim, 0.0);
      std::uint64_t calls = 0;
      auto f = [&](const double* p, std::size_t n) {
        ++calls;
        return quadratic(p, n);
      };
      auto opt = make(with(base, m, final));
      StepCalls sc{&calls};
      const Result r = opt.minimize(f, x.data(), x.size(), sc);
      INFO(name << ": max_evaluations " << m << ", evaluate_final " << final << ": " << r.message);
      const std::uint64_t reserve = final ? 1 : 0;
      const std::uint64_t steps = m >= reserve ? (m - reserve) / per_step : 0;
      CHECK(calls <= m);
      CHECK(r.status == Status::max_evaluations);
      CHECK(r.ok());
      CHECK(r.steps == steps);  // stopped at the step boundary where the next step no longer fit
      CHECK(calls == steps * per_step + (final ? 1 : 0));
      CHECK(r.evaluations == calls);
      CHECK(m - calls < per_step + reserve);
      CHECK(sc.info.evaluations_per_step == int(per_step));
      CHECK(sc.info.max_evaluations == m);
      for (std::uint64_t c : sc.per_step) CHECK(c == per_step);
    }
}

}  // namespace

TEST_CASE("max_evaluations is exact for every named method, with q > 1 and the candidate rule", "[blackbox][budget]") {
  check_budget(
      "ZO-SGD", [](Options o) { return ZOSGD(o); }, 2);
  check_budget(
      "ZO-SGD q=3", [](Options o) { return ZOSGD(o, RGE({.directions = 3})); }, 6);
  check_budget(
      "ZO-SGD one-sided q=2", [](Options o) { return ZOSGD(o, RGE({.directions = 2, .one_sided = true})); }, 3);
  check_budget(
      "Sign q=2", [](Options o) { return ZOSGDSign(o, RGE({.directions = 2})); }, 4);
  check_budget(
      "Momentum", [](Options o) { return ZOSGDMomentum(o); }, 2);
  check_budget(
      "Adam q=4", [](Options o) { return ZOAdam(o, RGE({.directions = 4})); }, 8);
  check_budget(
      "Cons", [](Options o) { return ZOSGDCons(o); }, 5);
  check_budget(
      "Cons q=3", [](Options o) { return ZOSGDCons(o, RGE({.directions = 3})); }, 9);
  check_budget(
      "HiZOO", [](Options o) { return HiZOO(o); }, 3);
  check_budget(
      "Factored q=2", [](Options o) { return ZOFactored(o, RGE({.directions = 2})); }, 4);
  check_budget(
      "FZOO q=3", [](Options o) { return FZOO(o, NormalizedRGE({.directions = 3})); }, 4);
  check_budget(
      "Block-wise 2 of 4 blocks",
      [](Options o) {
        o.blocks = 4;
        return ZOSGDBlockwise(o, BlockwiseRGE({.per_step = 2}));
      },
      4);
}

TEST_CASE("max_evaluations on the Eigen path and for forward-grad (q JVPs + candidates per step)",
          "[blackbox][budget]") {
  auto run = [](auto opt, std::uint64_t per_step) {
    Eigen::VectorXd x = Eigen::VectorXd::Zero(kDim);
    std::uint64_t calls = 0;
    auto f = [&](const auto& v) {
      ++calls;
      return ((v.array() - 0.5).square()).sum();
    };
    StepCalls sc{&calls};
    const Result r = opt.minimize(f, x, sc);
    CHECK(r.status == Status::max_evaluations);
    CHECK(calls <= 60);
    CHECK(calls == r.steps * per_step + 1);
    CHECK(60 - calls < per_step + 1);
    CHECK(sc.info.evaluations_per_step == int(per_step));
    for (std::uint64_t c : sc.per_step) CHECK(c == per_step);
  };
  const Options o{.learning_rate = 1e-3, .max_steps = 100000, .max_evaluations = 60};
  run(ZOSGDCons(o, RGE({.directions = 2})), 7);
  run(ForwardGradSGD(o, ForwardGrad({.directions = 3})), 3);
  run(Optimizer<ForwardGrad, Conservative>(o, ForwardGrad({.directions = 2})), 5);
  run(HiZOO(o), 3);
}

TEST_CASE("an ask/tell loop that checks Run::step_fits stays within max_evaluations at a step boundary",
          "[blackbox][budget]") {
  std::vector<double> x(kDim, 0.0);
  BufferStore store;
  store.add("x", x.data(), x.size());
  ZOSGDCons opt({.learning_rate = 1e-3, .max_evaluations = 52}, RGE({.directions = 2}));  // 7 per step
  auto run = opt.run(store);
  std::uint64_t calls = 0;
  while (run.step_fits()) {
    std::optional<StepInfo> done;
    while (!done) {
      run.ask();
      ++calls;
      done = run.tell(quadratic(x.data(), x.size()));
    }
  }
  CHECK(run.step() == 7);
  CHECK(calls == 49);
  CHECK(run.state().evaluations == 49);
  CHECK_FALSE(run.step_fits());
}

TEST_CASE("RunInfo::evaluations_per_step is the measured count per step for every method", "[blackbox][runinfo]") {
  auto check = [](const std::string& name, auto opt) {
    std::vector<float> x(kDim, 0.0f);
    std::uint64_t calls = 0;
    auto f = [&](std::span<const float> v) {
      ++calls;
      return quadratic(v.data(), v.size());
    };
    StepCalls sc{&calls};
    opt.minimize(f, std::span<float>(x), sc);
    INFO(name);
    REQUIRE(sc.per_step.size() == 7);
    for (std::uint64_t c : sc.per_step) CHECK(c == std::uint64_t(sc.info.evaluations_per_step));
  };
  const Options o{.learning_rate = 1e-3, .max_steps = 7};
  check("ZO-SGD", ZOSGD(o));
  check("Sign", ZOSGDSign(o));
  check("Momentum", ZOSGDMomentum(o));
  check("Adam", ZOAdam(o, RGE({.directions = 2})));
  check("Cons (was reported as 2)", ZOSGDCons(o));
  check("Cons q=2", ZOSGDCons(o, RGE({.directions = 2})));
  check("HiZOO", HiZOO(o));
  check("Factored", ZOFactored(o));
  check("FZOO", FZOO(o));
}

TEST_CASE("the divergence guard ends a blowing-up run with Status::diverged at the best point's bits",
          "[blackbox][divergence]") {
  // Plain sum x^2 with a learning rate ten times too large: |x| grows by about 10x per step.
  auto sphere = [](const double* x, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += x[i] * x[i];
    return s;
  };
  struct Case {
    DivergenceGuard guard;
    std::function<bool(double first, const std::vector<double>& losses)> fires;
  };
  const std::vector<Case> cases = {
      {{}, [](double f0, const std::vector<double>& l) { return l.back() > 100 * f0; }},  // the default: 100 x first
      {{.factor = 0, .limit = 50}, [](double, const std::vector<double>& l) { return l.back() > 50; }},
      {{.factor = 0, .window = 2, .growth = 3},
       [](double, const std::vector<double>& l) {
         const std::size_t n = l.size();
         return n >= 2 && l[n - 1] > 3 * std::min(l[n - 2], n >= 3 ? l[n - 3] : l[n - 2]);
       }},
  };
  for (const Case& c : cases) {
    std::vector<double> x(10, 1.0), best_x;
    double best = INFINITY;
    std::uint64_t step = 0, best_step = 0;
    auto f = [&](const double* p, std::size_t n) {
      const double v = sphere(p, n);
      if (v < best) best = v, best_x.assign(p, p + n), best_step = step;
      return v;
    };
    std::vector<double> losses;
    std::uint64_t expected = 0;
    bool found = false;
    struct Watch {
      std::uint64_t* step;
      std::vector<double>* losses;
      const Case* c;
      std::uint64_t* expected;
      bool* found;
      void on_step(const StepInfo& i) {
        losses->push_back(i.loss);
        if (!*found && c->fires(losses->front(), *losses)) *expected = i.step, *found = true;
        *step = i.step + 1;
      }
    } watch{&step, &losses, &c, &expected, &found};
    Options o{.learning_rate = 0.5, .epsilon = 1e-3, .max_steps = 200, .seed = 2};
    o.divergence = c.guard;
    const Result r = ZOSGD(o).minimize(f, x.data(), x.size(), watch);
    INFO(r.message);
    REQUIRE(found);
    CHECK(r.status == Status::diverged);
    CHECK(!r.ok());
    CHECK(r.steps == expected + 1);  // the diverged step is the last
    CHECK_THAT(r.message, Catch::Contains("diverged at step " + std::to_string(expected)));
    CHECK(r.best_restored);
    CHECK(same_bits(x, best_x));  // rolled back to the best evaluation's bits
    CHECK(r.best_loss == best);
    CHECK(r.best_step == best_step);
    CHECK(r.loss == best);
    CHECK(sphere(x.data(), x.size()) == r.best_loss);
  }
  // Off by default on the Eigen path (the run goes on until the loss overflows); on when asked.
  Eigen::VectorXd e = Eigen::VectorXd::Ones(10);
  auto fe = [](const Eigen::VectorXd& v) { return v.squaredNorm(); };
  const Options o{.learning_rate = 0.5, .max_steps = 200, .seed = 2};
  CHECK(ZOSGD(o).minimize(fe, e).status != Status::diverged);
  e.setOnes();
  Options on = o;
  on.divergence.enabled = true;
  CHECK(ZOSGD(on).minimize(fe, e).status == Status::diverged);
  // Off when asked on the black-box path.
  std::vector<double> x(10, 1.0);
  Options off = o;
  off.divergence.enabled = false;
  CHECK(ZOSGD(off).minimize(sphere, x.data(), x.size()).status != Status::diverged);
}

TEST_CASE("keep_best returns the best point evaluated: its loss is Result::best_loss", "[blackbox][best]") {
  // Sign steps of a fixed length: the run wanders around the minimum, so the last point is not the best.
  const Options o{.learning_rate = 0.05, .epsilon = 1e-3, .max_steps = 300, .seed = 11};
  std::vector<double> x(kDim, 0.0);
  double best = INFINITY;
  auto f = [&](std::span<const double> v) {
    const double l = quadratic(v.data(), v.size());
    best = std::min(best, l);
    return l;
  };
  const Result r = ZOSGDSign(o).minimize(f, std::span<double>(x));  // keep_best defaults on here
  INFO("best " << r.best_loss << " at step " << r.best_step << ", last " << r.last_loss);
  CHECK(r.best_restored);
  CHECK(r.best_loss == best);
  CHECK(quadratic(x.data(), x.size()) == r.best_loss);
  CHECK(r.loss == r.best_loss);
  CHECK(r.best_loss < r.last_loss);
  CHECK(r.best_step < 300);

  // Off: the parameters are the last point; the best is still reported.
  Options last = o;
  last.keep_best = false;
  std::vector<double> y(kDim, 0.0);
  const Result r2 = ZOSGDSign(last).minimize(f, std::span<double>(y));
  CHECK_FALSE(r2.best_restored);
  CHECK(quadratic(y.data(), y.size()) == r2.loss);
  CHECK(r2.loss == r2.last_loss);
  CHECK(r2.best_loss == r.best_loss);
  CHECK(r2.best_step == r.best_step);

  // On the Eigen path (off by default), and for forward-grad (the loss at x of each step).
  const Options kb{.learning_rate = 0.05, .max_steps = 300, .seed = 11, .keep_best = true};
  Eigen::VectorXd e = Eigen::VectorXd::Zero(kDim);
  auto fe = [](const auto& v) { return ((v.array() - 0.5).square()).sum(); };
  const Result r3 = ZOSGDSign(kb).minimize(fe, e);
  CHECK(r3.best_restored);
  CHECK(fe(e) == r3.best_loss);
  e.setZero();
  const Result r4 = Optimizer<ForwardGrad, Sign>(kb).minimize(fe, e);
  CHECK(r4.best_restored);
  CHECK(fe(e) == r4.best_loss);
  CHECK(r4.best_loss <= r4.last_loss);
}

TEST_CASE("box bounds hold after every step, projected or reflected, for every update rule", "[blackbox][bounds]") {
  // The minimum (x_i = 3) lies outside the box [-1, 1] (coordinate 0: [0, 0.25]).
  auto run = [](const std::string& name, auto make, BoundMethod method, bool keep_best, auto scalar) {
    using T = decltype(scalar);
    std::vector<double> lo(kDim, -1.0), hi(kDim, 1.0);
    lo[0] = 0.0, hi[0] = 0.25;
    Options o{.learning_rate = 0.05,
              .epsilon = 1e-2,
              .max_steps = 150,
              .seed = 4,
              .keep_best = keep_best,
              .lower_bounds = lo,
              .upper_bounds = hi,
              .bound_method = method};
    std::vector<T> x(kDim, T(0));
    auto f = [](const T* p, std::size_t n) {
      double s = 0;
      for (std::size_t i = 0; i < n; ++i) s += std::pow(double(p[i]) - 3.0, 2);
      return s;
    };
    auto outside = [&] {
      std::size_t n = 0;
      for (std::size_t i = 0; i < x.size(); ++i) n += !(double(x[i]) >= lo[i] && double(x[i]) <= hi[i]);
      return n;
    };
    struct Inside {
      std::function<std::size_t()> outside;
      std::size_t count = 0;
      void on_step(const StepInfo&) { count += outside(); }
    } inside{outside};
    auto opt = make(o);
    const Result r = opt.minimize(f, x.data(), x.size(), inside);
    INFO(name << (method == BoundMethod::project ? " project" : " reflect") << ", keep_best " << keep_best << ": "
              << r.message);
    CHECK(r.ok());
    CHECK(r.steps == 150);
    CHECK(inside.count == 0);  // after every step
    CHECK(outside() == 0);     // and the returned point (the best one inside the box, with keep_best)
    if (keep_best) CHECK(f(x.data(), x.size()) == r.best_loss);
    // The box binds: projected runs end with some coordinates exactly on the upper bounds (Factored scales its step by
    // RMS(x), about 0 here, and barely moves).
    std::size_t on_bound = 0;
    for (std::size_t i = 0; i < kDim; ++i) on_bound += double(x[i]) == hi[i];
    if (method == BoundMethod::project && !keep_best && name != "Factored") CHECK(on_bound > 0);
  };
  for (BoundMethod m : {BoundMethod::project, BoundMethod::reflect})
    for (bool keep : {false, true}) {
      run(
          "ZO-SGD", [](Options o) { return ZOSGD(o, RGE({.directions = 2})); }, m, keep, double{});
      run(
          "ZO-SGD float", [](Options o) { return ZOSGD(o); }, m, keep, float{});
      run(
          "Sign", [](Options o) { return ZOSGDSign(o); }, m, keep, float{});
      run(
          "Momentum", [](Options o) { return ZOSGDMomentum(o); }, m, keep, double{});
      run(
          "Adam", [](Options o) { return ZOAdam(o); }, m, keep, float{});
      run(
          "Cons", [](Options o) { return ZOSGDCons(o); }, m, keep, double{});
      run(
          "HiZOO", [](Options o) { return HiZOO(o); }, m, keep, float{});
      run(
          "Factored", [](Options o) { return ZOFactored(o); }, m, keep, double{});
      run(
          "FZOO", [](Options o) { return FZOO(o); }, m, keep, float{});
    }
}

TEST_CASE("bounds: projection and reflection arithmetic, checks that name the problem", "[blackbox][bounds]") {
  const Bounds p{.lower = {-1}, .upper = {1}};
  CHECK(p.apply(0, 0.5) == 0.5);
  CHECK(p.apply(0, 1.5) == 1.0);
  CHECK(p.apply(0, -7.0) == -1.0);
  const Bounds r{.lower = {-1}, .upper = {1}, .method = BoundMethod::reflect};
  CHECK(r.apply(0, 1.5) == 0.5);
  CHECK(r.apply(0, 3.5) == -0.5);  // mirrored at 1, then at -1
  CHECK(r.apply(0, -1.25) == -0.75);
  const Bounds one_sided{.lower = {0}, .method = BoundMethod::reflect};
  CHECK(one_sided.apply(0, -2.0) == 2.0);
  CHECK(one_sided.apply(0, 1e300) == 1e300);
  CHECK(std::isnan(p.apply(0, NAN)));

  std::vector<double> x(4, 0.0);
  auto f = [](const double* v) { return v[0] * v[0]; };
  CHECK_THROWS_WITH(ZOSGD({.lower_bounds = {1.0}}).minimize(f, x.data(), x.size()),
                    Catch::Contains("starting point lies outside the bounds") && Catch::Contains("element 0"));
  CHECK_THROWS_WITH(ZOSGD({.lower_bounds = {-1, -1, -1}}).minimize(f, x.data(), x.size()),
                    Catch::Contains("'lower_bounds' of Options has 3 values"));
  CHECK_THROWS_WITH(ZOSGD({.lower_bounds = {2}, .upper_bounds = {1}}),
                    Catch::Contains("'lower_bounds[0]' of Options exceeds 'upper_bounds[0]'"));
  CHECK_THROWS_WITH(ZOSGD({.upper_bounds = {NAN}}), Catch::Contains("'upper_bounds[0]' of Options is NaN"));
  std::vector<bfloat16> h(4);
  BufferStore s;
  s.add("h", h.data(), h.size());
  CHECK_THROWS_WITH(s.set_bounds("h", {.lower = {0}}), Catch::Contains("float32 or float64"));
}

TEST_CASE("without bounds the sweeps take their usual path: bits equal with bounds that never bind",
          "[blackbox][bounds]") {
  // A box no step reaches goes element by element through the bounded path: the same arithmetic, the same bits.
  auto bits = [](auto make, bool boxed) {
    Options o{.learning_rate = 1e-2, .max_steps = 40, .seed = 6, .keep_best = false};
    if (boxed) o.lower_bounds = {-1e30}, o.upper_bounds = {1e30};
    std::vector<float> x(300, 0.25f);
    make(o).minimize([](const float* p, std::size_t n) { return quadratic(p, n); }, x.data(), x.size());
    return x;
  };
  auto same = [&](auto make) { CHECK(same_bits(bits(make, false), bits(make, true))); };
  same([](Options o) { return ZOSGD(o); });
  same([](Options o) { return ZOSGD(o, RGE({.directions = 3})); });
  same([](Options o) { return ZOAdam(o); });
  same([](Options o) { return HiZOO(o); });
  same([](Options o) { return ZOSGDCons(o); });
}

TEST_CASE("the span and C-pointer overloads take the same steps, bit for bit, as the Eigen path", "[blackbox][flat]") {
  auto check = [](const std::string& name, auto make, auto scalar) {
    using T = decltype(scalar);
    using V = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    const Options o{.learning_rate = 1e-2, .epsilon = 1e-3, .max_steps = 60, .seed = 13, .keep_best = false};
    V e = V::Constant(kDim, T(0.1));
    const Result re = make(o).minimize([](const V& v) { return quadratic(v.data(), std::size_t(v.size())); }, e);
    std::vector<T> a(kDim, T(0.1)), b = a, c = a;
    const Result ra = make(o).minimize([](const T* p, std::size_t n) { return quadratic(p, n); }, a.data(), a.size());
    const Result rb =
        make(o).minimize([](std::span<const T> v) { return quadratic(v.data(), v.size()); }, std::span<T>(b));
    const Result rc = make(o).minimize([](const T* p) { return quadratic(p, kDim); }, c.data(), c.size());
    std::vector<T> d(kDim, T(0.1));
    Result rd = rc;
    if constexpr (std::is_same_v<T, double>)
      rd = make(o).minimize(c_quadratic, d.data(), d.size());
    else
      d = a;
    INFO(name);
    for (const auto* v : {&a, &b, &c, &d}) CHECK(std::memcmp(v->data(), e.data(), sizeof(T) * kDim) == 0);
    for (const Result* r : std::initializer_list<const Result*>{&ra, &rb, &rc, &rd}) {
      CHECK(r->loss == re.loss);
      CHECK(r->evaluations == re.evaluations);
      CHECK(r->best_loss == re.best_loss);
    }
  };
  for (int t = 0; t < 2; ++t) {
    auto run = [&](auto scalar) {
      check(
          "ZO-SGD", [](Options o) { return ZOSGD(o, RGE({.directions = 2})); }, scalar);
      check(
          "Adam", [](Options o) { return ZOAdam(o); }, scalar);
      check(
          "Cons", [](Options o) { return ZOSGDCons(o); }, scalar);
      check(
          "HiZOO", [](Options o) { return HiZOO(o); }, scalar);
      check(
          "Factored", [](Options o) { return ZOFactored(o); }, scalar);
    };
    if (t == 0)
      run(double{});
    else
      run(float{});
  }
}

TEST_CASE("block-wise over a flat buffer needs blocks: Options::blocks, and an error for a single block",
          "[blackbox][blockwise]") {
  std::vector<double> x(10, 0.0);
  auto f = [](const double* p, std::size_t n) { return quadratic(p, n); };
  CHECK_THROWS_WITH(ZOSGDBlockwise({.max_steps = 5}).minimize(f, x.data(), x.size()),
                    Catch::Contains("BlockwiseRGE over a single block") && Catch::Contains("Options::blocks"));
  Eigen::VectorXd e = Eigen::VectorXd::Zero(10);
  CHECK_THROWS_WITH(ZOSGDBlockwise({.max_steps = 5}).minimize([](const Eigen::VectorXd& v) { return v.sum(); }, e),
                    Catch::Contains("BlockwiseRGE over a single block"));
  // Four blocks of 3, 3, 2, 2: each step perturbs exactly one of them.
  std::vector<double> start;
  std::vector<std::size_t> touched;
  auto g = [&](const double* p, std::size_t n) {
    std::size_t lo = n, hi = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (p[i] != start[i]) lo = std::min(lo, i), hi = i;
    touched.push_back(lo * 100 + hi);
    return quadratic(p, n);
  };
  struct Start {
    std::vector<double>* start;
    const std::vector<double>* x;
    void on_begin(const RunInfo&) { *start = *x; }
    void on_step(const StepInfo&) { *start = *x; }
  } s{&start, &x};
  const Result r =
      ZOSGDBlockwise({.max_steps = 8, .evaluate_final = false, .blocks = 4}).minimize(g, x.data(), x.size(), s);
  CHECK(r.steps == 8);
  REQUIRE(touched.size() == 16);
  const std::vector<std::size_t> cyclic = {0 * 100 + 2, 3 * 100 + 5, 6 * 100 + 7, 8 * 100 + 9};
  for (std::size_t k = 0; k < 16; ++k) CHECK(touched[k] == cyclic[(k / 2) % 4]);
  CHECK_THROWS_WITH(ZOSGD({.blocks = 11}).minimize(f, x.data(), x.size()),
                    Catch::Contains("'blocks' must be in [1, 10]"));
  CHECK_THROWS_WITH(ZOSGD({.blocks = 0}), Catch::Contains("'blocks' must be >= 1"));
}

TEST_CASE("divergence options are validated naming the field", "[blackbox][options]") {
  CHECK_THROWS_WITH(ZOSGD({.divergence = {.factor = 0.5}}), Catch::Contains("'divergence.factor' must be 0 (off)"));
  CHECK_THROWS_WITH(ZOSGD({.divergence = {.limit = NAN}}), Catch::Contains("'divergence.limit' must not be NaN"));
  CHECK_THROWS_WITH(ZOSGD({.divergence = {.growth = 1}}),
                    Catch::Contains("'divergence.growth' must be finite and > 1"));
}

TEST_CASE("bounded runs replay and resume bit for bit", "[blackbox][bounds][replay]") {
  const auto dir = std::filesystem::temp_directory_path() / ("zeroth_bb_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const Options o{.learning_rate = 0.05,
                  .epsilon = 1e-2,
                  .max_steps = 40,
                  .seed = 9,
                  .evaluate_final = false,
                  .keep_best = false,
                  .lower_bounds = {-1},
                  .upper_bounds = {0.8},
                  .bound_method = BoundMethod::reflect};
  auto f = [](const double* p, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += std::pow(p[i] - 3.0, 2);
    return s;
  };
  auto check = [&](auto make) {
    std::vector<double> a(kDim, 0.0), b = a, c = a;
    make(o).minimize(f, a.data(), a.size(), TrajectoryRecorder(dir / "t.bin"));
    BufferStore store;
    store.add("x0", b.data(), b.size());
    auto replayer = make(o);
    CHECK(replay(dir / "t.bin", store, replayer) == 40);
    CHECK(same_bits(a, b));
    auto split = make(o);  // 15 steps, then a second call continues to 40
    split.minimize(f, c.data(), c.size(), StepLimit(15));
    split.minimize(f, c.data(), c.size());
    CHECK(split.state().step == 40);
    CHECK(same_bits(a, c));
  };
  check([](Options op) { return ZOSGD(op, RGE({.directions = 2})); });
  check([](Options op) { return ZOAdam(op); });
  check([](Options op) { return ZOSGDCons(op); });
  check([](Options op) { return HiZOO(op); });
  std::filesystem::remove_all(dir);
}

TEST_CASE("zeroth::minimize with FZOO: the rate cosine-decayed over the budget, the same steps as spelled out",
          "[blackbox][minimize]") {
  std::vector<double> x(kDim, 0.0), y(kDim, 0.0);
  std::vector<double> rates;
  auto record = [&](const StepInfo& s) { rates.push_back(s.learning_rate); };
  const Result r = zeroth::minimize(c_quadratic, x.data(), x.size(),
                                    {.max_evaluations = 181, .method = BlackBoxMethod::fzoo, .seed = 5}, record);
  // 9 evaluations a step (8 directions + the base point), the final one kept: 20 steps in 181.
  CHECK(r.status == Status::max_evaluations);
  CHECK(r.evaluations <= 181);
  CHECK(r.steps == 20);
  REQUIRE(rates.size() == 20);
  CHECK(rates.front() == 1e-4);
  CHECK(rates.back() == Approx(0.0).margin(1e-20));  // the horizon is the budget's 20 steps, not max_steps
  CHECK(rates[10] < rates[5]);
  CHECK(r.best_loss < quadratic(y.data(), y.size()));
  CHECK(r.best_loss == c_quadratic(x.data(), x.size()));  // x holds the best point (keep_best)
  // The same run spelled out with the optimizer.
  FZOO opt({.learning_rate = 1e-4,
            .max_steps = ~std::uint64_t{0},
            .seed = 5,
            .lr_schedule = Schedule::cosine(),
            .max_evaluations = 181,
            .keep_best = true,
            .divergence = {.enabled = true},
            .plateau = {.enabled = true}},  // no step of a smooth objective ties: as if off
           NormalizedRGE({.directions = 8}));
  const Result s = opt.minimize(c_quadratic, y.data(), y.size());
  CHECK(std::memcmp(x.data(), y.data(), sizeof(double) * kDim) == 0);
  CHECK(s.best_loss == r.best_loss);
  // Eigen and span forms too; the budget is required.
  Eigen::VectorXd e = Eigen::VectorXd::Zero(kDim);
  zeroth::minimize([](const Eigen::VectorXd& v) { return quadratic(v.data(), std::size_t(v.size())); }, e,
                   {.max_evaluations = 181, .method = BlackBoxMethod::fzoo, .seed = 5});
  CHECK(std::memcmp(e.data(), y.data(), sizeof(double) * kDim) == 0);
  CHECK_THROWS_WITH(zeroth::minimize(c_quadratic, std::span<double>(x), {}), Catch::Contains("max_evaluations"));
}

namespace {
// Piecewise constant: stairs 0.05 wide in each coordinate. From x0 = 0.01 the nearest edges are 0.01 and 0.04 away,
// so every perturbation of 1e-3 sees the same loss.
double staircase(const double* x, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += std::pow(std::floor((x[i] - 0.5) * 20) / 20, 2);
  return s;
}
}  // namespace

TEST_CASE("plateau adaptation widens epsilon (and the rate) until a flat objective responds", "[blackbox][plateau]") {
  const Options base{.learning_rate = 1e-4, .epsilon = 1e-3, .max_steps = 60, .seed = 4, .keep_best = false};
  const std::vector<double> x0(kDim, 0.01);
  std::vector<double> off = x0, on = x0;
  Options o = base;
  FZOO flat(o);
  const Result r_off = flat.minimize(staircase, off.data(), off.size());
  for (double v : off) CHECK(v == Approx(0.01).margin(1e-15));  // every step tied: FZOO's sigma = 0, no move
  CHECK(flat.state().plateau_scale == 1.0);
  o.plateau.enabled = true;
  FZOO adapt(o);
  std::vector<double> eps, ratio;
  auto record = [&](const StepInfo& s) {
    eps.push_back(s.epsilon);
    ratio.push_back(s.learning_rate / s.epsilon);
  };
  const Result r_on = adapt.minimize(staircase, on.data(), on.size(), record);
  REQUIRE(eps.size() == 60);
  CHECK(eps.front() == 1e-3);
  CHECK(eps[1] == Approx(1e-3 * std::sqrt(2.0)).epsilon(1e-15));  // step 0 tied: one growth
  CHECK(*std::max_element(eps.begin(), eps.end()) > 1e-2);         // wide enough to reach the nearest edges
  for (double v : ratio) CHECK(v == Approx(0.1).epsilon(1e-12));  // the rate moves with epsilon
  int grew = 0, shrank = 0;  // each step's factor is sqrt(2) (most directions tied) or 0.97, clamped at 1
  for (std::size_t k = 0; k + 1 < eps.size(); ++k) {
    const double f = eps[k + 1] / eps[k];
    const bool up = f == Approx(std::sqrt(2.0)).epsilon(1e-12), down = f == Approx(0.97).epsilon(1e-12);
    CHECK((up || down || (f == 1.0 && eps[k] == 1e-3)));
    grew += up;
    shrank += down;
  }
  CHECK(grew >= 7);  // 1e-3 sqrt(2)^7 = 0.011: the nearest edge
  CHECK(shrank >= 1);
  CHECK(adapt.state().plateau_scale > 1.0);
  CHECK(r_on.last_loss < r_off.last_loss);
  CHECK(staircase(on.data(), on.size()) < staircase(x0.data(), x0.size()));
  // Never below the set epsilon: on a smooth objective nothing ties, and the run is bit for bit the plain one.
  std::vector<double> a(kDim, 0.0), b = a;
  FZOO smooth_off(base), smooth_on(o);
  smooth_off.minimize(c_quadratic, a.data(), a.size());
  smooth_on.minimize(c_quadratic, b.data(), b.size());
  CHECK(same_bits(a, b));
  CHECK(smooth_on.state().plateau_scale == 1.0);
  // With ZO-SGD (one direction: a tie is l+ == l-) it grows too.
  std::vector<double> c = x0;
  ZOSGD sgd(o);
  sgd.minimize(staircase, c.data(), c.size());
  CHECK(sgd.state().plateau_scale > 1.0);
  // A constant objective ties at every step: the factor stops at max_scale.
  Options capped = o;
  capped.plateau.max_scale = 8;
  ZOSGD flat_sgd(capped);
  std::vector<double> k(kDim, 0.0);
  flat_sgd.minimize([](const double*, std::size_t) { return 1.0; }, k.data(), k.size());
  CHECK(flat_sgd.state().plateau_scale == 8.0);
}

TEST_CASE("plateau adaptation refuses what it cannot serve", "[blackbox][plateau][options]") {
  std::vector<double> x(kDim, 0.01);
  // A checkpointed factor with the rule off, or above max_scale, is refused rather than silently kept or dropped.
  ZOSGD off({.max_steps = 3});
  off.state().plateau_scale = 2.0;
  CHECK_THROWS_WITH(off.minimize(staircase, x.data(), x.size()), Catch::Contains("plateau_scale 2.0"));
  ZOSGD on({.max_steps = 3, .plateau = {.enabled = true, .max_scale = 4}});
  on.state().plateau_scale = 5.0;
  CHECK_THROWS_WITH(on.minimize(staircase, x.data(), x.size()), Catch::Contains("plateau.max_scale"));
  // Forward-grad has no epsilon to widen.
  Eigen::VectorXd e = Eigen::VectorXd::Zero(kDim);
  ForwardGradSGD fg({.max_steps = 3, .plateau = {.enabled = true}});
  CHECK_THROWS_WITH(fg.minimize([](const auto& v) { return v.squaredNorm(); }, e), Catch::Contains("forward-grad"));
  // The rate can grow max_scale-fold: weight decay must stay below 1 at the largest.
  CHECK_THROWS_WITH(ZOSGD({.learning_rate = 1e-3, .weight_decay = 1, .plateau = {.enabled = true}}),
                    Catch::Contains("'learning_rate * weight_decay * plateau.max_scale' must be < 1"));
}

TEST_CASE("plateau adaptation resumes from a checkpoint and replays from a trajectory bit for bit",
          "[blackbox][plateau][replay]") {
  const auto dir = std::filesystem::temp_directory_path() / ("zeroth_plateau_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const Options o{.learning_rate = 1e-3,
                  .epsilon = 1e-3,
                  .max_steps = 60,
                  .seed = 11,
                  .evaluate_final = false,
                  .keep_best = false,
                  .plateau = {.enabled = true}};
  const std::vector<double> x0(kDim, 0.01);
  std::vector<double> whole = x0, replayed = x0, resumed = x0;
  FZOO full(o);
  full.minimize(staircase, whole.data(), whole.size(), TrajectoryRecorder(dir / "t.bin"));
  REQUIRE(full.state().plateau_scale > 1.0);
  {  // replay recomputes the factor from the recorded gradients (and checks each step's epsilon against the record)
    BufferStore store;
    store.add("x0", replayed.data(), replayed.size());
    FZOO replayer(o);
    CHECK(replay(dir / "t.bin", store, replayer) == 60);
    CHECK(same_bits(whole, replayed));
    CHECK(replayer.state().plateau_scale == full.state().plateau_scale);
  }
  {  // 25 steps, a checkpoint, a fresh optimizer loads it and runs the other 35
    FZOO first(o);
    first.minimize(staircase, resumed.data(), resumed.size(), StepLimit(25));
    const double scale = first.state().plateau_scale;
    REQUIRE(scale > 1.0);
    BufferStore saved;
    saved.add("x0", resumed.data(), resumed.size());
    save_checkpoint(dir / "ck.bin", saved, first.state());
    std::vector<double> cont(kDim, 0.0);
    BufferStore store;
    store.add("x0", cont.data(), cont.size());
    FZOO second(o);
    second.state() = load_checkpoint(dir / "ck.bin", store);
    CHECK(second.state().plateau_scale == scale);
    CHECK(second.state().step == 25);
    second.minimize(staircase, cont.data(), cont.size());
    CHECK(second.state().step == 60);
    CHECK(same_bits(whole, cont));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("plateau options are validated naming the field", "[blackbox][plateau][options]") {
  CHECK_THROWS_WITH(ZOSGD({.plateau = {.enabled = true, .tie_fraction = 1}}),
                    Catch::Contains("'plateau.tie_fraction' must be in [0, 1)"));
  CHECK_THROWS_WITH(ZOSGD({.plateau = {.growth = 1}}), Catch::Contains("'plateau.growth' must be finite and > 1"));
  CHECK_THROWS_WITH(ZOSGD({.plateau = {.shrink = 1}}), Catch::Contains("'plateau.shrink' must be in (0, 1)"));
  CHECK_THROWS_WITH(ZOSGD({.plateau = {.max_scale = 0.5}}), Catch::Contains("'plateau.max_scale' must be finite"));
}

TEST_CASE("a schedule's horizon is the steps max_evaluations leaves room for, when fewer than max_steps",
          "[blackbox][budget]") {
  std::vector<double> x(kDim, 0.0);
  std::vector<double> rates;
  std::uint64_t horizon = 0;
  struct Record {
    std::vector<double>* rates;
    std::uint64_t* horizon;
    void on_begin(const RunInfo& i) { *horizon = i.max_steps; }
    void on_step(const StepInfo& s) { rates->push_back(s.learning_rate); }
  };
  // ZO-SGD: 2 evaluations a step, 1 final: 49 evaluations leave room for 24 steps.
  ZOSGD({.learning_rate = 1e-2, .max_steps = 1000, .lr_schedule = Schedule::linear(), .max_evaluations = 49})
      .minimize(c_quadratic, x.data(), x.size(), Record{&rates, &horizon});
  CHECK(horizon == 24);
  REQUIRE(rates.size() == 24);
  CHECK(rates.back() == Approx(0.0).margin(1e-20));
  rates.clear();
  // max_steps fewer: it is the horizon.
  ZOSGD({.learning_rate = 1e-2, .max_steps = 10, .lr_schedule = Schedule::linear(), .max_evaluations = 49})
      .minimize(c_quadratic, x.data(), x.size(), Record{&rates, &horizon});
  CHECK(horizon == 10);
  CHECK(rates.size() == 10);
}
