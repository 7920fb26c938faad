// Parallel evaluations (issue 12, deliverable 5): Options::parallel_evaluations and ask_batch/tell_batch give the
// same bits as sequential evaluation, with the objective called concurrently.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <zeroth/zeroth.hpp>

#include "support/objectives.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace zeroth;

namespace {

constexpr std::size_t kDim = 40;

using zeroth::testing::quadratic;  // f(x) = sum_i (1 + i % 3) (x_i - 0.5)^2

template <class V>
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(a[0]) * a.size()) == 0;
}

bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Every step's summary, for comparing trajectories bit for bit.
struct Trajectory {
  std::vector<double> loss, g;
  std::vector<std::uint64_t> evaluations;
  void on_step(const StepInfo& s) {
    loss.push_back(s.loss);
    g.insert(g.end(), s.projected_gradient.begin(), s.projected_gradient.end());
    evaluations.push_back(s.evaluations);
  }
  bool operator==(const Trajectory& o) const {
    return same_bits(loss, o.loss) && same_bits(g, o.g) && evaluations == o.evaluations;
  }
};

// The highest number of calls of the objective seen running at once.
struct Concurrency {
  std::atomic<int> active{0}, peak{0};
  std::atomic<std::uint64_t> calls{0};
  void enter() {
    ++calls;
    const int now = ++active;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // long enough for the other threads to enter
  }
  void leave() { --active; }
};

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void check_concurrent(const Concurrency& c, int width, const std::string& name) {
  if (width == 1) {
    CHECK(c.peak.load() == 1);
  } else if (max_threads() < 2) {
    WARN(name << ": skipping the concurrency assertion: omp_get_max_threads() == 1 (or no OpenMP)");
  } else {
    INFO(name << " with parallel_evaluations = " << width);
    CHECK(c.peak.load() > 1);
  }
}

// Runs make(options with parallel_evaluations = w) for w = 1, 2, 4 over an Eigen vector and over a flat float buffer
// and checks the parameters, Result and trajectory are bit-identical to w = 1, and that w > 1 ran concurrently.
template <class Make>
void check_same_bits(const std::string& name, Make make, Options o) {
  Eigen::VectorXd e1;
  std::vector<float> f1;
  Result re1, rf1;
  Trajectory te1, tf1;
  for (int w : {1, 2, 4}) {
    o.parallel_evaluations = w;
    INFO(name << ", parallel_evaluations = " << w);
    Concurrency ce, cf;
    Eigen::VectorXd e = Eigen::VectorXd::Constant(kDim, 0.1);
    Trajectory te;
    const Result re = make(o).minimize(
        [&](const Eigen::VectorXd& v) {
          ce.enter();
          const double l = quadratic(v.data(), std::size_t(v.size()));
          ce.leave();
          return l;
        },
        e, te);
    std::vector<float> x(kDim, 0.1f);
    Trajectory tf;
    const Result rf = make(o).minimize(
        [&](std::span<const float> v) {
          cf.enter();
          const double l = quadratic(v.data(), v.size());
          cf.leave();
          return l;
        },
        std::span<float>(x), tf);
    INFO("Eigen: " << re.message << "; flat: " << rf.message);
    CHECK(re.ok());
    CHECK(rf.ok());
    CHECK(ce.calls.load() == re.evaluations);
    CHECK(cf.calls.load() == rf.evaluations);
    check_concurrent(ce, w, name + " (Eigen)");
    check_concurrent(cf, w, name + " (flat)");
    if (w == 1) {
      e1 = e, f1 = x, re1 = re, rf1 = rf, te1 = te, tf1 = tf;
      CHECK(re.best_loss < quadratic(std::vector<double>(kDim, 0.1).data(), kDim));  // it made progress
      continue;
    }
    CHECK(same_bits(e, e1));
    CHECK(same_bits(x, f1));
    CHECK(te == te1);
    CHECK(tf == tf1);
    for (auto [r, r1] : {std::pair{re, re1}, std::pair{rf, rf1}}) {
      CHECK(same_double(r.loss, r1.loss));
      CHECK(same_double(r.last_loss, r1.last_loss));
      CHECK(same_double(r.best_loss, r1.best_loss));
      CHECK(r.best_step == r1.best_step);
      CHECK(r.evaluations == r1.evaluations);
      CHECK(r.steps == r1.steps);
      CHECK(r.status == r1.status);
      CHECK(r.best_restored == r1.best_restored);
    }
  }
}

}  // namespace

TEST_CASE("parallel = sequential bits: ZO-SGD q=4, FZOO q=8, Adam q=2, HiZOO, Cons", "[parallel]") {
  const Options o{.learning_rate = 2e-2, .epsilon = 1e-3, .max_steps = 40, .seed = 11};
  check_same_bits(
      "ZO-SGD q=4", [](Options p) { return ZOSGD(p, RGE({.directions = 4})); }, o);
  Options snap = o;
  snap.rollback = Rollback::snapshot;
  check_same_bits(
      "ZO-SGD q=4, snapshot rollback", [](Options p) { return ZOSGD(p, RGE({.directions = 4})); }, snap);
  Options fzoo = o;
  fzoo.learning_rate = 2e-4;  // FZOO's step is about lr / eps in parameter units
  check_same_bits(
      "FZOO q=8", [](Options p) { return FZOO(p, NormalizedRGE({.directions = 8})); }, fzoo);
  check_same_bits(
      "Adam q=2", [](Options p) { return ZOAdam(p, RGE({.directions = 2})); }, o);
  check_same_bits(
      "HiZOO", [](Options p) { return HiZOO(p); }, o);
  check_same_bits(
      "Cons", [](Options p) { return ZOSGDCons(p); }, o);
  check_same_bits(
      "Cons q=3", [](Options p) { return ZOSGDCons(p, RGE({.directions = 3})); }, o);
}

TEST_CASE("parallel evaluations keep max_evaluations exact", "[parallel][budget]") {
  for (int w : {1, 3, 4}) {
    for (std::uint64_t m : {std::uint64_t{1}, std::uint64_t{8}, std::uint64_t{9}, std::uint64_t{53}}) {
      std::vector<double> x(kDim, 0.0);
      std::atomic<std::uint64_t> calls{0};
      auto f = [&](const double* p, std::size_t n) {
        ++calls;
        return quadratic(p, n);
      };
      ZOSGD opt({.max_steps = 1000000, .parallel_evaluations = w, .max_evaluations = m}, RGE({.directions = 4}));
      const Result r = opt.minimize(f, x.data(), x.size());
      INFO("parallel_evaluations " << w << ", max_evaluations " << m << ": " << r.message);
      const std::uint64_t steps = (m - 1) / 8;  // 8 per step, one final evaluation
      CHECK(r.status == Status::max_evaluations);
      CHECK(r.steps == steps);
      CHECK(calls.load() == steps * 8 + 1);
      CHECK(r.evaluations == calls.load());
      CHECK(calls.load() <= m);
    }
  }
}

TEST_CASE("a non-finite loss inside a parallel batch rolls back as sequentially", "[parallel]") {
  // NaN where |x_0 - 0.5| > 0.025: with epsilon 1e-2 a point hits it when |z_0| > 2.5, some step in the middle of a
  // batch of 4 (of 8 points).
  for (Rollback rb : {Rollback::inverse, Rollback::snapshot}) {
    std::vector<double> x1;
    Result r1;
    for (int w : {1, 4}) {
      std::vector<double> x(kDim, 0.5);
      auto f = [](std::span<const double> v) {
        return std::abs(v[0] - 0.5) > 0.025 ? std::numeric_limits<double>::quiet_NaN() : quadratic(v.data(), v.size());
      };
      ZOSGD opt({.learning_rate = 1e-3, .epsilon = 1e-2, .max_steps = 2000, .seed = 3, .rollback = rb,
                 .parallel_evaluations = w, .divergence = {.enabled = false}},
                RGE({.directions = 4}));
      Trajectory t;
      const Result r = opt.minimize(f, std::span<double>(x), t);
      INFO("rollback " << int(rb) << ", parallel_evaluations " << w << ": " << r.message);
      CHECK(r.status == Status::non_finite_loss);
      if (w == 1) {
        x1 = x, r1 = r;
        continue;
      }
      CHECK(same_bits(x, x1));
      CHECK(r.message == r1.message);
      CHECK(r.evaluations == r1.evaluations);
      CHECK(same_double(r.best_loss, r1.best_loss));
      CHECK(r.best_step == r1.best_step);
    }
  }
}

TEST_CASE("ask_batch/tell_batch give the bits of ask/tell, NaN rollback and candidates included", "[parallel]") {
  // Steps of ZO-SGD q=3 (6 points) and ZOSGD-Cons q=2 (4 points, then 3 candidates), in batches of 0 (the whole
  // phase), 2, 4 and 5 points; evaluation 9 (a point of step 1, inside a batch) returns NaN and rolls its step back.
  auto check = [](auto make, Rollback rb, const std::string& name) {
    const Options o{.learning_rate = 5e-2, .epsilon = 1e-3, .max_steps = 100, .seed = 7, .rollback = rb};
    auto loss_of = [](const float* p, std::size_t n, std::uint64_t k) {
      return k == 9 ? std::numeric_limits<double>::quiet_NaN() : quadratic(p, n);
    };
    std::vector<float> ref(kDim, 0.1f);
    std::vector<double> ref_steps;
    {
      BufferStore store;
      store.add("x", ref.data(), ref.size());
      auto opt = make(o);
      auto run = opt.run(store);
      std::uint64_t k = 0;
      while (run.step() < 12) {
        run.ask();
        if (auto info = run.tell(loss_of(ref.data(), ref.size(), k++))) {
          ref_steps.push_back(info->loss);
          ref_steps.push_back(info->rolled_back ? 1.0 : 0.0);
        }
      }
    }
    for (int width : {0, 2, 4, 5}) {
      INFO(name << ", rollback " << int(rb) << ", batches of " << width);
      std::vector<float> x(kDim, 0.1f);
      BufferStore store;
      store.add("x", x.data(), x.size());
      auto opt = make(o);
      auto run = opt.run(store);
      std::vector<double> steps;
      std::vector<std::vector<float>> copies;
      std::uint64_t k = 0;
      while (run.step() < 12) {
        copies.clear();
        std::vector<int> index;
        const int n = run.ask_batch(
            [&](const Ask& a) {
              index.push_back(a.index);
              copies.push_back(x);  // the store holds point a.index now
            },
            width);
        REQUIRE(n == int(copies.size()));
        for (int i = 1; i < n; ++i) CHECK(index[i] == index[i - 1] + 1);
        std::vector<double> losses(copies.size());
        const std::uint64_t before = run.state().evaluations;
        for (std::size_t i = 0; i < copies.size(); ++i) losses[i] = loss_of(copies[i].data(), kDim, k + i);
        auto info = run.tell_batch(losses);
        k += run.state().evaluations - before;  // a rolled-back step does not count the batch's later points
        if (info) {
          steps.push_back(info->loss);
          steps.push_back(info->rolled_back ? 1.0 : 0.0);
        }
      }
      CHECK(same_bits(x, ref));
      CHECK(same_bits(steps, ref_steps));
      CHECK(k == run.state().evaluations);
    }
  };
  for (Rollback rb : {Rollback::inverse, Rollback::snapshot}) {
    check([](Options o) { return ZOSGD(o, RGE({.directions = 3})); }, rb, "ZO-SGD q=3");
    check([](Options o) { return ZOSGDCons(o, RGE({.directions = 2})); }, rb, "Cons q=2");
    check([](Options o) { return FZOO(o, NormalizedRGE({.directions = 4})); }, rb, "FZOO q=4");
  }
}

TEST_CASE("ask_batch/tell_batch misuse is refused", "[parallel]") {
  std::vector<float> x(kDim, 0.1f);
  BufferStore store;
  store.add("x", x.data(), x.size());
  ZOSGD opt({}, RGE({.directions = 2}));
  auto run = opt.run(store);
  CHECK_THROWS_WITH(run.tell_batch(std::vector<double>{1.0}), Catch::Contains("without ask_batch()"));
  CHECK(run.ask_batch([](const Ask&) {}, 3) == 3);
  CHECK_THROWS_WITH(run.ask(), Catch::Contains("without tell_batch()"));
  CHECK_THROWS_WITH(run.tell_batch(std::vector<double>{1.0}), Catch::Contains("needs 3 losses"));
}

TEST_CASE("parallel_evaluations is refused where the objective reads the parameters itself", "[parallel]") {
  std::vector<float> x(kDim, 0.1f);
  BufferStore store;
  store.add("x", x.data(), x.size());
  auto f = [&] { return quadratic(x.data(), x.size()); };
  CHECK_THROWS_WITH(ZOSGD({.parallel_evaluations = 2}).minimize(f, store),
                    Catch::Contains("'parallel_evaluations' = 2") && Catch::Contains("ask_batch()/tell_batch()"));
  CHECK_NOTHROW(ZOSGD({.max_steps = 2, .parallel_evaluations = 1}).minimize(f, store));
  Eigen::VectorXd e = Eigen::VectorXd::Zero(4);
  auto g = [&] { return e.squaredNorm(); };
  CHECK_THROWS_WITH(ZOSGD({.parallel_evaluations = 4}).minimize(g, e),
                    Catch::Contains("'parallel_evaluations' = 4") && Catch::Contains("f(params)"));
  auto generic = [](const auto& v) { return ((v.array() - 0.5).square()).sum(); };
  CHECK_THROWS_WITH(ForwardGradSGD({.parallel_evaluations = 2}).minimize(generic, e),
                    Catch::Contains("'parallel_evaluations' = 2") && Catch::Contains("forward-grad"));
  CHECK_THROWS_WITH(ZOSGD({.parallel_evaluations = 0}), Catch::Contains("'parallel_evaluations' must be >= 1"));
}
