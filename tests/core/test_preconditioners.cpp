// Update rules against slow references of their equations; state memory; HiZOO vs ZO-SGD; resume and replay.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>
#include <zeroth/zeroth.hpp>

using namespace zeroth;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  auto p = fs::temp_directory_path() / ("zeroth_pre_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p;
}

template <class V>
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(a[0]) * a.size()) == 0;
}

// A block with weight decay, one exempt from it and a frozen one; loss sum_i c_i (x_i - 0.5)^2.
template <class T>
struct Model {
  std::vector<T> w, b, frozen;
  BufferStore store;
  explicit Model(std::vector<std::size_t> w_shape = {}) : w(300), b(70), frozen(10, T(1)) {
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = T(std::sin(double(i)));
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = T(std::cos(double(i)));
    store.add("w", w.data(), w.size(), {}, std::move(w_shape)).add("b", b.data(), b.size(), {.decay = false});
    store.add("frozen", frozen.data(), frozen.size(), {.trainable = false});
  }
  static double c(std::size_t blk, std::size_t i) { return 1.0 + double((i + blk) % 5); }
  template <class V>
  static double loss_of(const V& w, const V& b) {
    double s = 0;
    for (std::size_t i = 0; i < w.size(); ++i) s += c(0, i) * (double(w[i]) - 0.5) * (double(w[i]) - 0.5);
    for (std::size_t i = 0; i < b.size(); ++i) s += c(1, i) * (double(b[i]) - 0.5) * (double(b[i]) - 0.5);
    return s;
  }
  double loss() const { return loss_of(w, b); }
};

// The reference state: parameters in double, per block (w, b), and z(seed_k) of element i of block blk.
struct Ref {
  std::vector<std::vector<double>> x;
  template <class T>
  explicit Ref(const Model<T>& m) : x{{m.w.begin(), m.w.end()}, {m.b.begin(), m.b.end()}} {}
  static double z(const StepInfo& s, std::size_t k, std::size_t blk, std::size_t i) {
    return random::direction_element(Direction::gaussian, random::mix64(s.seed + k), std::uint32_t(blk), i);
  }
  static double ghat(const StepInfo& s, std::size_t q, std::size_t blk, std::size_t i) {
    double v = 0;
    for (std::size_t k = 0; k < q; ++k) v += s.projected_gradient[k] * z(s, k, blk, i);
    return v / double(q);
  }
  template <class T>
  double max_rel_error(const Model<T>& m) const {
    double e = 0;
    for (std::size_t i = 0; i < x[0].size(); ++i) e = std::max(e, std::abs(m.w[i] - x[0][i]) / (1 + std::abs(x[0][i])));
    for (std::size_t i = 0; i < x[1].size(); ++i) e = std::max(e, std::abs(m.b[i] - x[1][i]) / (1 + std::abs(x[1][i])));
    return e;
  }
};

constexpr double kLr = 1e-3, kWd = 0.1;

// Runs `steps` steps by ask/tell and after each one advances the reference, checking the iterates agree.
template <class T, class Opt, class RefStep>
double drive(Opt& opt, Model<T>& m, Ref& ref, int steps, RefStep&& ref_step) {
  auto run = opt.run(m.store);
  double worst = 0;
  while (run.step() < std::uint64_t(steps)) {
    run.ask();
    if (auto s = run.tell(m.loss())) {
      ref_step(*s);
      worst = std::max(worst, ref.max_rel_error(m));
    }
  }
  return worst;
}

// Relative agreement expected after a few dozen steps: float parameters, or double ones whose rule keeps its state in
// float32 (momentum, Adam moments, H^{-1/2}), or double all the way.
template <class T>
double tolerance(bool float_state) {
  return std::is_same_v<T, float> ? 2e-5 : (float_state ? 1e-6 : 1e-12);
}

}  // namespace

TEMPLATE_TEST_CASE("sign, momentum and Adam follow their equations (reference with the same seeds)",
                   "[preconditioners]", float, double) {
  using T = TestType;
  const int q = 2, steps = 30;
  for (Rollback mode : {Rollback::inverse, Rollback::snapshot}) {
    Options o{
        .learning_rate = kLr, .epsilon = 1e-3, .weight_decay = kWd, .max_steps = 1000, .seed = 11, .rollback = mode};
    auto shrink = [](std::size_t blk) { return blk == 0 ? 1.0 - kLr * kWd : 1.0; };
    SECTION("sign") {
      Model<T> m;
      Ref ref(m);
      Optimizer<RGE, Sign> opt(o, RGE({.directions = q}));
      const double err = drive(opt, m, ref, steps, [&](const StepInfo& s) {
        for (std::size_t blk = 0; blk < 2; ++blk)
          for (std::size_t i = 0; i < ref.x[blk].size(); ++i) {
            double u = 0;
            for (std::size_t k = 0; k < q; ++k) u += (s.projected_gradient[k] > 0 ? 1.0 : -1.0) * Ref::z(s, k, blk, i);
            ref.x[blk][i] = shrink(blk) * ref.x[blk][i] - kLr * u / q;
          }
      });
      CHECK(err < tolerance<T>(false));
    }
    SECTION("momentum") {
      Model<T> m;
      Ref ref(m);
      std::vector<std::vector<double>> mom{std::vector<double>(300), std::vector<double>(70)};
      Optimizer<RGE, Momentum> opt(o, RGE({.directions = q}), Momentum({.beta = 0.8}));
      const double err = drive(opt, m, ref, steps, [&](const StepInfo& s) {
        for (std::size_t blk = 0; blk < 2; ++blk)
          for (std::size_t i = 0; i < ref.x[blk].size(); ++i) {
            mom[blk][i] = 0.8 * mom[blk][i] + Ref::ghat(s, q, blk, i);
            ref.x[blk][i] = shrink(blk) * ref.x[blk][i] - kLr * mom[blk][i];
          }
      });
      CHECK(err < tolerance<T>(true));
      CHECK(std::abs(opt.preconditioner().momentum(1)[7] - mom[1][7]) < 1e-3 * (1 + std::abs(mom[1][7])));
    }
    SECTION("adam") {
      Model<T> m;
      Ref ref(m);
      std::vector<std::vector<double>> mm{std::vector<double>(300), std::vector<double>(70)}, vv = mm;
      const double b1 = 0.9, b2 = 0.99, ae = 1e-8;
      Optimizer<RGE, Adam> opt(o, RGE({.directions = q}), Adam({.beta1 = b1, .beta2 = b2, .epsilon = ae}));
      int t = 0;
      const double err = drive(opt, m, ref, steps, [&](const StepInfo& s) {
        ++t;
        for (std::size_t blk = 0; blk < 2; ++blk)
          for (std::size_t i = 0; i < ref.x[blk].size(); ++i) {
            const double gh = Ref::ghat(s, q, blk, i);
            mm[blk][i] = b1 * mm[blk][i] + (1 - b1) * gh;
            vv[blk][i] = b2 * vv[blk][i] + (1 - b2) * gh * gh;
            const double mh = mm[blk][i] / (1 - std::pow(b1, t)), vh = vv[blk][i] / (1 - std::pow(b2, t));
            ref.x[blk][i] = shrink(blk) * ref.x[blk][i] - kLr * mh / (std::sqrt(vh) + ae);
          }
      });
      CHECK(opt.preconditioner().updates() == steps);
      CHECK(err < 2 * tolerance<T>(true));
    }
  }
}

TEMPLATE_TEST_CASE("the factored second moment follows AdaLomo's equations on a matrix and a vector block",
                   "[preconditioners][factored]", float, double) {
  using T = TestType;
  const int q = 2;
  const double lr = 1e-2, eps1 = 1e-30;
  Model<T> m({10, 30});
  Ref ref(m);
  const std::size_t rows[2] = {10, 1}, cols[2] = {30, 70};
  std::vector<std::vector<double>> r{std::vector<double>(10), std::vector<double>(1)};
  std::vector<std::vector<double>> c{std::vector<double>(30), std::vector<double>(70)};
  Optimizer<RGE, Factored> opt({.learning_rate = lr, .weight_decay = kWd, .seed = 6}, RGE({.directions = q}));
  int t = 0;
  const double err = drive(opt, m, ref, 30, [&](const StepInfo& s) {
    ++t;
    const double beta = 1 - std::pow(double(t), -0.8);
    for (std::size_t blk = 0; blk < 2; ++blk) {
      const std::size_t R = rows[blk], C = cols[blk];
      std::vector<double> g(R * C), rs(R), cs(C);
      for (std::size_t i = 0; i < R * C; ++i) {
        g[i] = Ref::ghat(s, q, blk, i);
        rs[i / C] += (g[i] * g[i] + eps1) / double(C);
        cs[i % C] += (g[i] * g[i] + eps1) / double(R);
      }
      double mean_r = 0, u2 = 0, x2 = 0;
      for (std::size_t k = 0; k < R; ++k) mean_r += (r[blk][k] = beta * r[blk][k] + (1 - beta) * rs[k]) / double(R);
      for (std::size_t k = 0; k < C; ++k) c[blk][k] = beta * c[blk][k] + (1 - beta) * cs[k];
      for (std::size_t i = 0; i < R * C; ++i) {
        g[i] /= std::sqrt(r[blk][i / C] * c[blk][i % C] / mean_r);  // U
        u2 += g[i] * g[i];
        x2 += ref.x[blk][i] * ref.x[blk][i];
      }
      const double step =
          lr * std::max(1e-3, std::sqrt(x2 / double(R * C))) / std::max(1.0, std::sqrt(u2 / double(R * C)));
      for (std::size_t i = 0; i < R * C; ++i)
        ref.x[blk][i] = (blk == 0 ? 1 - lr * kWd : 1.0) * ref.x[blk][i] - step * g[i];
    }
  });
  CHECK(err < tolerance<T>(true));
  CHECK(opt.preconditioner().rows(0).size() == 10);
  CHECK(opt.preconditioner().cols(0).size() == 30);
  CHECK(opt.preconditioner().state_bytes() == 4 * (10 + 30 + 1 + 70));  // O(rows + cols) per block
}

TEMPLATE_TEST_CASE("HiZOO perturbs by eps H^{-1/2} z and updates H and x by its equations", "[preconditioners][hizoo]",
                   float, double) {
  using T = TestType;
  const double alpha = 0.05, eps = 1e-2;
  for (Rollback mode : {Rollback::inverse, Rollback::snapshot}) {
    Model<T> m;
    Ref ref(m);
    std::vector<std::vector<double>> H{std::vector<double>(300, 1.0), std::vector<double>(70, 1.0)};
    HiZOO opt({.learning_rate = kLr, .epsilon = eps, .weight_decay = kWd, .seed = 4, .rollback = mode}, {},
              DiagonalHessian({.alpha = alpha}));
    auto run = opt.run(m.store);
    double worst_point = 0, worst = 0;
    while (run.step() < 25) {
      const Ask a = run.ask();
      // The asked point is x0 + (0, +eps, -eps)[index] H^{-1/2} z.
      const double off = a.index == 0 ? 0.0 : (a.index == 1 ? eps : -eps);
      const std::uint64_t seed = random::mix64(random::step_seed(4, a.step, 0));
      for (std::size_t blk = 0; blk < 2; ++blk)
        for (std::size_t i = 0; i < ref.x[blk].size(); i += 7) {
          const double zi = random::direction_element(Direction::gaussian, seed, std::uint32_t(blk), i);
          const double expect = ref.x[blk][i] + off * zi / std::sqrt(H[blk][i]);
          const double got = blk == 0 ? double(m.w[i]) : double(m.b[i]);
          worst_point = std::max(worst_point, std::abs(got - expect) / (1 + std::abs(expect)));
        }
      if (auto s = run.tell(m.loss())) {
        REQUIRE(s->projected_gradient.size() == 2);
        const double g = s->projected_gradient[0], kappa = std::abs(s->projected_gradient[1]);
        for (std::size_t blk = 0; blk < 2; ++blk)
          for (std::size_t i = 0; i < ref.x[blk].size(); ++i) {
            const double zi = Ref::z(*s, 0, blk, i);
            // Calibrated at step 0: H := kappa everywhere; then the smoothed update.
            H[blk][i] = s->step == 0 ? kappa : (1 - alpha) * H[blk][i] + alpha * kappa * H[blk][i] * zi * zi;
            ref.x[blk][i] = (blk == 0 ? 1 - kLr * kWd : 1.0) * ref.x[blk][i] - kLr * g * zi / std::sqrt(H[blk][i]);
          }
        worst = std::max(worst, ref.max_rel_error(m));
      }
    }
    CHECK(worst_point < tolerance<T>(true));
    CHECK(worst < tolerance<T>(true));
    const float s7 = opt.preconditioner().inverse_sqrt_hessian(0)[7];
    CHECK(std::abs(s7 - 1 / std::sqrt(H[0][7])) < 1e-5);
    CHECK(H[0][7] != 1.0);  // alpha > 0 really moves H
  }
}

TEST_CASE("state bytes per trainable parameter: sign 0, momentum 4, Adam 8, HiZOO 4", "[preconditioners][memory]") {
  Model<float> m;
  const std::size_t d = m.store.dimension();
  REQUIRE(d == 370);
  auto bytes = [&](auto&& opt) {
    auto run = opt.run(m.store);  // the state is allocated when a run binds the rule to a store
    if constexpr (requires { opt.preconditioner().state_bytes(); })
      return opt.preconditioner().state_bytes();
    else
      return std::size_t{0};
  };
  CHECK(bytes(ZOSGD()) == 0);
  CHECK(bytes(ZOSGDSign()) == 0);
  CHECK(bytes(ZOSGDMomentum()) == 4 * d);
  CHECK(bytes(ZOAdam()) == 8 * d);
  CHECK(bytes(HiZOO()) == 4 * d);
}

TEST_CASE("invalid rule options throw naming the field and the bound", "[preconditioners][options]") {
  CHECK_THROWS_WITH(Adam({.beta1 = 1.5}), "zeroth: 'Adam::Options::beta1' must be in [0, 1) (got 1.5)");
  CHECK_THROWS_WITH(Adam({.beta2 = -0.1}), Catch::Contains("'Adam::Options::beta2'"));
  CHECK_THROWS_WITH(Adam({.epsilon = 0}), Catch::Contains("'Adam::Options::epsilon' must be finite and > 0"));
  CHECK_THROWS_WITH(Momentum({.beta = 1}), "zeroth: 'Momentum::Options::beta' must be in [0, 1) (got 1)");
  CHECK_THROWS_WITH(DiagonalHessian({.alpha = 2}), Catch::Contains("'DiagonalHessian::Options::alpha'"));
}

TEST_CASE("fused updates give the same bits with 1 and 2 threads over many chunks", "[preconditioners][threads]") {
  const int d = 3 * int(BufferStore::kChunk) + 1000;
  auto f = [](const Eigen::VectorXf& x) { return double((x.array() - 1).square().sum()); };
  Eigen::VectorXf a = Eigen::VectorXf::Zero(d), b = a, c = a, e = a;
  ZOAdam({.learning_rate = 1e-2, .max_steps = 5, .threads = 1}).minimize(f, a);
  ZOAdam({.learning_rate = 1e-2, .max_steps = 5, .threads = 2}).minimize(f, b);
  CHECK(same_bits(a, b));
  HiZOO({.learning_rate = 1e-2, .max_steps = 5, .threads = 1}).minimize(f, c);
  HiZOO({.learning_rate = 1e-2, .max_steps = 5, .threads = 2}).minimize(f, e);
  CHECK(same_bits(c, e));
  Eigen::MatrixXf p = Eigen::MatrixXf::Zero(1000, 200), r = p;  // row segments of a matrix block
  auto fm = [](const Eigen::MatrixXf& x) { return double((x.array() - 1).square().sum()); };
  Optimizer<RGE, Factored>({.learning_rate = 1e-2, .max_steps = 5, .threads = 1}).minimize(fm, p);
  Optimizer<RGE, Factored>({.learning_rate = 1e-2, .max_steps = 5, .threads = 2}).minimize(fm, r);
  CHECK(same_bits(p, r));
  CHECK(p.cwiseAbs().maxCoeff() > 0);
}

TEMPLATE_TEST_CASE("stateful rules resume bit-identically from a checkpoint and replay bit-identically from the log",
                   "[preconditioners][io]", ZOAdam, ZOSGDMomentum, HiZOO, (Optimizer<RGE, Factored>)) {
  using Opt = TestType;
  const auto dir = temp_dir();
  const Options o{.learning_rate = 1e-3, .weight_decay = 0.01, .max_steps = 120, .seed = 9};
  auto run_full = [&](Model<float>& m, const fs::path& log) {
    Opt opt(o);
    opt.minimize([&] { return m.loss(); }, m.store, TrajectoryRecorder(log));
  };
  Model<float> full, part, resumed, replayed;
  run_full(full, dir / "full.bin");

  // Interrupted after step 70, with a checkpoint (parameters and rule state) at step 50.
  Opt first(o);
  first.minimize([&] { return part.loss(); }, part.store, Checkpointer(dir / "ck.bin", 50), StepLimit(70));
  Opt second(o);
  second.state() = load_checkpoint(dir / "ck.bin", resumed.store, second.preconditioner());
  CHECK(second.state().step == 50);
  second.minimize([&] { return resumed.loss(); }, resumed.store);
  CHECK(same_bits(full.w, resumed.w));
  CHECK(same_bits(full.b, resumed.b));

  // Replay re-runs the same sweeps, and so the same state updates.
  Opt third(o);
  CHECK(replay(dir / "full.bin", replayed.store, third) == 120);
  CHECK(same_bits(full.w, replayed.w));
  CHECK(same_bits(full.b, replayed.b));

  // A stateful checkpoint needs its rule; a stateless one cannot resume a stateful rule.
  Model<float> other;
  CHECK_THROWS_WITH(load_checkpoint(dir / "ck.bin", other.store), Catch::Contains("holds the state of rule"));
  save_checkpoint(dir / "plain.bin", other.store, {3, 6});
  Opt fourth(o);
  CHECK_THROWS_WITH(load_checkpoint(dir / "plain.bin", other.store, fourth.preconditioner()),
                    Catch::Contains("has no state for rule"));
  ZOSGD plain(o);  // and an old (stateless) checkpoint still loads without a rule, or with a stateless one
  CHECK(load_checkpoint(dir / "plain.bin", other.store, plain.preconditioner()).step == 3);
}

TEST_CASE("a corrupt rule state is rejected and leaves the rule untouched", "[preconditioners][io]") {
  const auto dir = temp_dir();
  Model<float> m;
  ZOAdam opt({.max_steps = 5, .seed = 2});
  opt.minimize([&] { return m.loss(); }, m.store);
  save_checkpoint(dir / "adam.bin", m.store, opt.state(), opt.preconditioner());
  std::string bytes;
  {
    std::ifstream f(dir / "adam.bin", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  bytes[bytes.size() - 20] ^= 0x10;  // inside the moments
  std::ofstream(dir / "bad.bin", std::ios::binary) << bytes;
  ZOAdam fresh;
  CHECK_THROWS_WITH(load_checkpoint(dir / "bad.bin", m.store, fresh.preconditioner()),
                    Catch::Contains("checksum mismatch"));
  CHECK(fresh.preconditioner().updates() == 0);
  Momentum wrong;
  CHECK_THROWS_WITH(load_checkpoint(dir / "adam.bin", m.store, wrong), Catch::Contains("not 'momentum'"));
  CHECK(load_checkpoint(dir / "adam.bin", m.store, fresh.preconditioner()).step == 5);
  CHECK(fresh.preconditioner().updates() == 5);
}

TEST_CASE("HiZOO reaches the target in fewer steps than tuned ZO-SGD when curvature is heterogeneous",
          "[preconditioners][hizoo]") {
  // f = 1/2 sum h_i x_i^2 with h log-spaced over [1, 1e4], started where every coordinate holds the same loss;
  // target: 1% of the initial loss. ZO-SGD gets its best learning rate of a grid; HiZOO its defaults.
  const int d = 20;
  const double kappa = 1e4;
  Eigen::VectorXd h(d);
  for (int i = 0; i < d; ++i) h[i] = std::pow(kappa, double(i) / (d - 1));
  auto f = [&](const Eigen::VectorXd& x) { return 0.5 * (h.array() * x.array().square()).sum(); };
  const Eigen::VectorXd x0 = h.cwiseSqrt().cwiseInverse();
  const double target = 0.01 * f(x0);
  const std::uint64_t cap = 200000;
  auto steps_to_target = [&](auto opt) {
    Eigen::VectorXd x = x0;
    std::uint64_t n = cap;
    struct Stop {
      double target;
      std::uint64_t* n;
      bool on_step(const StepInfo& s) {
        if (s.loss < target) *n = s.step + 1;
        return s.loss >= target && s.loss < 1e30;  // stop on reaching it, or on divergence (n stays at the cap)
      }
    };
    opt.minimize(f, x, Stop{target, &n});
    return n;
  };
  for (std::uint64_t seed : {1, 2}) {
    std::uint64_t sgd = cap;
    for (double m : {2.0, 4.0, 6.0, 8.0, 12.0})
      sgd = std::min(
          sgd, steps_to_target(ZOSGD(
                   {.learning_rate = m / ((d + 2) * kappa), .max_steps = cap, .seed = seed, .evaluate_final = false})));
    const std::uint64_t hizoo = steps_to_target(HiZOO({.learning_rate = 0.5,
                                                       .max_steps = cap,
                                                       .seed = seed,
                                                       .lr_schedule = Schedule::constant(200),
                                                       .evaluate_final = false}));
    INFO("seed " << seed << ": ZO-SGD " << sgd << " steps, HiZOO " << hizoo << " steps");
    CHECK(sgd < cap);
    CHECK(hizoo * 3 < sgd);
  }
}

TEST_CASE("HiZOO's calibrated H: a constant rate converges from step 0 where H = 1 diverges", "[preconditioners][hizoo]") {
  // 1/2 sum h_i x_i^2 from x = 1, no warmup. From H = 1 the first steps grow H by about kappa ~ (d/2) mean(h) per
  // element, too late for the steps already taken; calibrated at the first update, H starts at that scale.
  for (int d : {100, 1000}) {
    Eigen::VectorXd h(d);
    for (int i = 0; i < d; ++i) h[i] = std::pow(100.0, double(i) / (d - 1));
    auto f = [&](const Eigen::VectorXd& x) { return 0.5 * (h.array() * x.array().square()).sum(); };
    const double f0 = 0.5 * h.sum();
    auto run = [&](bool calibrate, double* worst) {
      Eigen::VectorXd x = Eigen::VectorXd::Ones(d);
      *worst = 0;
      struct Worst {
        double* w;
        void on_step(const StepInfo& s) { *w = std::max(*w, s.loss); }
      };
      HiZOO opt({.learning_rate = 0.1, .max_steps = 3000, .seed = 1, .threads = 1}, {},
                DiagonalHessian({.calibrate = calibrate}));
      return opt.minimize(f, x, Worst{worst}).loss;
    };
    double worst_cal = 0, worst_raw = 0;
    const double cal = run(true, &worst_cal), raw = run(false, &worst_raw);
    INFO("d = " << d << ": calibrated final/f0 " << cal / f0 << " (worst " << worst_cal / f0 << "), H = 1: final/f0 "
                << raw / f0 << " (worst " << worst_raw / f0 << ")");
    CHECK(cal < 0.3 * f0);
    CHECK(worst_cal < 2 * f0);
    CHECK(worst_raw > 100 * f0);
  }
}

TEST_CASE("Factored from x0 = 0: eps2 sets the scale of the first steps", "[preconditioners][factored]") {
  // f = 1/2 |x - 1|^2 from x = 0 (d = 200). The relative step lr max(eps2, RMS(x)) has no scale at 0: with AdaLomo's
  // eps2 = 1e-3 it stays near lr 1e-3 and the run stalls; eps2 = 1 (the scale the parameters should reach) moves.
  auto f = [](const Eigen::VectorXd& x) { return 0.5 * (x.array() - 1.0).square().sum(); };
  auto final_loss = [&](double eps2) {
    Eigen::VectorXd x = Eigen::VectorXd::Zero(200);
    Optimizer<RGE, Factored> opt({.learning_rate = 0.05, .max_steps = 300, .seed = 3, .threads = 1}, {},
                                 Factored({.eps2 = eps2}));
    return opt.minimize(f, x).loss;
  };
  const double f0 = 100.0, stalled = final_loss(1e-3), moved = final_loss(1.0);
  INFO("final/f0: eps2 = 1e-3 " << stalled / f0 << ", eps2 = 1 " << moved / f0);
  CHECK(stalled > 0.99 * f0);
  CHECK(moved < 0.5 * f0);
  CHECK_THROWS_WITH(Factored({.eps2 = 0.0}), Catch::Contains("eps2"));
}
