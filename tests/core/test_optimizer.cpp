// ZO-SGD end to end: convergence, ask/tell, non-finite losses, callbacks, minibatches, option validation.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <set>

#include <zeroth/zeroth.hpp>

using namespace zeroth;

namespace {
struct IllConditioned {  // f(x) = 1/2 sum h_i x_i^2, h log-spaced in [1, 10]
  Eigen::VectorXf h;
  explicit IllConditioned(int d) : h(d) {
    for (int i = 0; i < d; ++i) h[i] = std::pow(10.0f, float(i) / float(d - 1));
  }
  double operator()(const Eigen::VectorXf& x) const {
    return 0.5 * (h.array().cast<double>() * x.array().cast<double>().square()).sum();
  }
};
bool same_bits(const Eigen::VectorXf& a, const Eigen::VectorXf& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}
}  // namespace

TEST_CASE("ZO-SGD converges on an ill-conditioned quadratic of dimension 10^4", "[optimizer]") {
  const int d = 10000;
  IllConditioned f(d);
  Eigen::VectorXf x = Eigen::VectorXf::Ones(d);
  const double f0 = f(x);
  // lr = 1 / ((d + 2) L): the largest stable step for a Gaussian estimate.
  ZOSGD opt({.learning_rate = 1.0 / ((d + 2) * 10.0), .epsilon = 1e-3, .max_steps = 30000, .seed = 1});
  Result r = opt.minimize(f, x);
  INFO("f0 = " << f0 << ", final = " << r.loss);
  CHECK(r.status == Status::max_steps);
  CHECK(r.steps == 30000);
  CHECK(r.evaluations == 60001);
  // Expected for GD with step 1/(dL): f0 * mean_i(exp(-2 * 3 h_i / 10)) ~ 0.12 f0; ZO noise adds a little.
  CHECK(r.loss < 0.2 * f0);
  CHECK(r.loss > 0.01 * f0);  // and it is not magically exact
}

TEST_CASE("ask/tell and minimize take identical steps, and thread count does not change the bits", "[optimizer]") {
  const int d = 3000;
  IllConditioned f(d);
  Options o{.learning_rate = 1e-5, .epsilon = 1e-3, .weight_decay = 0.1, .max_steps = 50, .seed = 3};
  Eigen::VectorXf a = Eigen::VectorXf::Ones(d), b = a, c = a;
  ZOSGD(o).minimize(f, a);
  ZOSGD opt(o);
  EigenStore store(b);
  auto run = opt.run(store);
  while (run.step() < 50) {
    run.ask();
    run.tell(f(b));
  }
  CHECK(same_bits(a, b));
  o.threads = 1;
  ZOSGD(o).minimize(f, c);
  CHECK(same_bits(a, c));
}

TEST_CASE("a non-finite loss rolls the step back and ends the run with a status naming the step", "[optimizer]") {
  const int d = 1000;
  IllConditioned f(d);
  for (Rollback mode : {Rollback::snapshot, Rollback::inverse}) {
    Options o{.learning_rate = 1e-5, .max_steps = 10, .seed = 8, .rollback = mode};
    Eigen::VectorXf x = Eigen::VectorXf::Ones(d), ref = x;
    int calls = 0;
    auto poisoned = [&](const Eigen::VectorXf& v) { return ++calls == 2 * 5 + 2 ? std::nan("") : f(v); };
    Result r = ZOSGD(o).minimize(poisoned, x);
    CHECK(r.status == Status::non_finite_loss);
    CHECK_THAT(r.message, Catch::Contains("step 5") && Catch::Contains("evaluation 1"));
    CHECK(r.steps == 6);  // steps 0..4 and the rolled-back step 5
    o.max_steps = 5;
    ZOSGD(o).minimize(f, ref);
    if (mode == Rollback::snapshot) {
      CHECK(same_bits(x, ref));  // bit-exact
    } else {
      CHECK((x - ref).cwiseAbs().maxCoeff() <= 1e-6f);  // within an ulp or so of values near 1
    }
  }
}

TEST_CASE("callbacks see every step and can stop the run", "[optimizer][callbacks]") {
  IllConditioned f(100);
  Eigen::VectorXf x = Eigen::VectorXf::Ones(100);
  struct Counter {
    int begins = 0, steps = 0, ends = 0;
    void on_begin(const RunInfo& i) { begins += i.dimension == 100; }
    void on_step(const StepInfo&) { ++steps; }
    void on_end(const Result&) { ++ends; }
  } counter;
  ZOSGD opt({.learning_rate = 1e-4, .max_steps = 1000});
  Result r = opt.minimize(f, x, counter, StepLimit(25));
  CHECK(r.status == Status::stopped);
  CHECK_THAT(r.message, Catch::Contains("StepLimit") && Catch::Contains("step 24"));
  CHECK(counter.begins == 1);
  CHECK(counter.steps == 25);
  CHECK(counter.ends == 1);
  // A second call continues from step 25 (the optimizer keeps its state).
  Result r2 = opt.minimize(f, x, StepLimit(5));
  CHECK(opt.state().step == 30);
  CHECK(r2.steps == 5);

  auto flat = [](const Eigen::VectorXf&) { return 1.0; };
  Result r3 = ZOSGD({.max_steps = 100000}).minimize(flat, x, EarlyStopping(50));
  CHECK(r3.status == Status::stopped);
  CHECK(r3.steps == 51);  // the first step sets the best; 50 more without improvement

  // A lambda is an on_step (it used to be ignored without a word): void, or bool to stop.
  int seen = 0;
  ZOSGD({.learning_rate = 1e-4, .max_steps = 7}).minimize(f, x, [&](const StepInfo&) { ++seen; });
  CHECK(seen == 7);
  Result r4 = ZOSGD({.learning_rate = 1e-4, .max_steps = 100}).minimize(f, x, [](const StepInfo& s) {
    return s.step < 9;
  });
  CHECK(r4.status == Status::stopped);
  CHECK(r4.steps == 10);
}

TEST_CASE("CollapseDetector ends a run that no longer responds with Status::collapsed, and nothing else", "[optimizer][callbacks]") {
  Eigen::VectorXf x = Eigen::VectorXf::Ones(50);
  // A model collapsed to equal scores: every evaluation is exactly ln 2, so g is exactly 0 and no update moves it.
  auto collapsed = [](const Eigen::VectorXf&) { return std::log(2.0); };
  Result r = ZOSGD({.max_steps = 1000}).minimize(collapsed, x, CollapseDetector({.steps = 20}));
  CHECK(r.status == Status::collapsed);
  CHECK_FALSE(r.ok());  // before: "reached max_steps", ok, after 1000 steps
  CHECK(r.steps == 21);  // the first step sets the loss; 20 more with g = 0 and that loss
  CHECK_THAT(r.message, Catch::Contains("projected gradient was exactly 0") && Catch::Contains("0.693147181") &&
                            Catch::Contains("20 steps in a row (steps 2 to 21"));
  CHECK(std::string(to_string(r.status)) == "collapsed");

  // Scores nearly equal but not exactly (a BERT encoder collapsed at too large a learning rate): the loss within
  // the tolerance of chance on every batch, g small but not 0.
  std::uint64_t calls = 0;
  auto near_chance = [&](const Eigen::VectorXf&) { return std::log(2.0) + 5e-5 * std::sin(double(++calls)); };
  CollapseDetector near({.steps = 10, .chance_loss = std::log(2.0), .tolerance = 1e-4});
  Result r2 = ZOSGD({.max_steps = 1000}).minimize(near_chance, x, near);
  CHECK(r2.status == Status::collapsed);
  CHECK(r2.steps == 10);
  CHECK_THAT(r2.message, Catch::Contains("within 0.0001 of chance (0.693147"));

  // A run that learns is never flagged; nor is a flat objective with the detector off (steps = 0).
  IllConditioned f(50);
  Eigen::VectorXf y = Eigen::VectorXf::Ones(50);
  Result r3 = ZOSGD({.learning_rate = 1e-3, .max_steps = 300}).minimize(
      f, y, CollapseDetector({.steps = 5, .chance_loss = std::log(2.0)}));
  CHECK(r3.status == Status::max_steps);
  Result r4 = ZOSGD({.max_steps = 100}).minimize(collapsed, x, CollapseDetector({.steps = 0}));
  CHECK(r4.status == Status::max_steps);
}

TEST_CASE("a minibatch objective shows both evaluations of a step the same batch", "[optimizer][minibatch]") {
  const std::size_t n = 100, bsz = 10;
  std::vector<std::vector<std::size_t>> seen;
  auto loss = [&](const Eigen::VectorXf& x, std::span<const std::size_t> idx) {
    seen.emplace_back(idx.begin(), idx.end());
    return double(x.squaredNorm()) + double(idx[0]);
  };
  Minibatch f(loss, n, bsz, 4);
  Eigen::VectorXf x = Eigen::VectorXf::Ones(10);
  ZOSGD({.max_steps = 10, .evaluate_final = false}).minimize(f, x);
  REQUIRE(seen.size() == 20);
  std::set<std::size_t> epoch;
  for (std::size_t s = 0; s < 10; ++s) {
    CHECK(seen[2 * s] == seen[2 * s + 1]);
    epoch.insert(seen[2 * s].begin(), seen[2 * s].end());
  }
  CHECK(epoch.size() == n);  // one epoch visits every example once
  CHECK_THROWS_WITH(Minibatch(loss, 5, 10, 1), Catch::Contains("'batch_size' must be in [1, 5] (got 10)"));
}

TEST_CASE("invalid options throw naming the option and the bound", "[optimizer][options]") {
  CHECK_THROWS_WITH(ZOSGD({.learning_rate = -1}), "zeroth: 'learning_rate' must be finite and > 0 (got -1)");
  CHECK_THROWS_WITH(ZOSGD({.epsilon = 0}), "zeroth: 'epsilon' must be finite and > 0 (got 0)");
  CHECK_THROWS_WITH(ZOSGD({.weight_decay = std::nan("")}), Catch::Contains("'weight_decay' must be finite and >= 0"));
  CHECK_THROWS_WITH(ZOSGD({.max_steps = 0}), "zeroth: 'max_steps' must be >= 1 (got 0)");
  CHECK_THROWS_WITH(ZOSGD({.threads = -2}), "zeroth: 'threads' must be >= 0 (got -2)");
  CHECK_THROWS_WITH(ZOSGD({.lr_schedule = Schedule::cosine(0, -1)}),
                    Catch::Contains("'lr_schedule.final_factor' must be finite and >= 0"));
  CHECK_THROWS_WITH(RGE({.directions = 0}), Catch::Contains("'RGE::Options::directions' must be in [1, 64] (got 0)"));
  std::string err;
  CHECK_FALSE(Options{.learning_rate = 2, .weight_decay = 1}.is_valid(&err));
  CHECK_THAT(err, Catch::Contains("'learning_rate * weight_decay' must be < 1"));
}

TEST_CASE("schedules: constant, linear, cosine, warmup", "[schedule]") {
  CHECK(Schedule::constant().factor(500, 1000) == 1.0);
  CHECK(Schedule::linear(0, 0.0).factor(0, 101) == 1.0);
  CHECK(Schedule::linear(0, 0.0).factor(100, 101) == 0.0);
  CHECK(Schedule::linear(0, 0.5).factor(50, 101) == Approx(0.75));
  CHECK(Schedule::cosine(0, 0.0).factor(50, 101) == Approx(0.5));
  CHECK(Schedule::cosine(0, 0.1).factor(100, 101) == Approx(0.1));
  CHECK(Schedule::constant(9).factor(0, 100) == Approx(0.1));
  CHECK(Schedule::constant(9).factor(9, 100) == 1.0);
  // The schedule reaches the step: a cosine lr really changes the run.
  IllConditioned f(100);
  Eigen::VectorXf x = Eigen::VectorXf::Ones(100);
  std::vector<double> lrs;
  struct Lr {
    std::vector<double>* out;
    void on_step(const StepInfo& s) { out->push_back(s.learning_rate); }
  };
  ZOSGD({.learning_rate = 1e-3, .max_steps = 11, .lr_schedule = Schedule::cosine()}).minimize(f, x, Lr{&lrs});
  CHECK(lrs.front() == Approx(1e-3));
  CHECK(lrs[5] == Approx(5e-4));
  CHECK(lrs.back() == Approx(0.0).margin(1e-12));
}
