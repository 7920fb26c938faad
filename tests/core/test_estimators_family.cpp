// Block-wise, sparse and forward-grad estimators; the conservative rule's candidate phase.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>
#include <zeroth/zeroth.hpp>

using namespace zeroth;
namespace fs = std::filesystem;

namespace {

template <class V>
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(a[0]) * a.size()) == 0;
}

// Blocks of the given sizes ("b0", "b1", ...) and a frozen one; loss sum_i c_i (x_i - 0.5)^2.
struct Model {
  std::vector<std::vector<float>> x;
  std::vector<float> frozen = std::vector<float>(10, 1.0f);
  BufferStore store;
  explicit Model(std::vector<std::size_t> sizes) {
    for (std::size_t b = 0; b < sizes.size(); ++b) {
      x.emplace_back(sizes[b]);
      for (std::size_t i = 0; i < sizes[b]; ++i) x[b][i] = float(std::sin(double(i + 7 * b)));
    }
    for (std::size_t b = 0; b < x.size(); ++b) store.add("b" + std::to_string(b), x[b].data(), x[b].size());
    store.add("frozen", frozen.data(), frozen.size(), {.trainable = false});
  }
  double loss() const {
    double s = 0;
    for (std::size_t b = 0; b < x.size(); ++b)
      for (std::size_t i = 0; i < x[b].size(); ++i) s += (1.0 + double((i + b) % 5)) * std::pow(x[b][i] - 0.5, 2);
    return s;
  }
};

std::uint64_t direction_seed(std::uint64_t run_seed, std::uint64_t step, std::size_t k) {
  return random::mix64(random::step_seed(run_seed, step, 0) + k);
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  const double n = double(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    sa += a[i], sb += b[i], saa += a[i] * a[i], sbb += b[i] * b[i], sab += a[i] * b[i];
  }
  return (sab / n - sa / n * sb / n) / std::sqrt((saa / n - sa * sa / n / n) * (sbb / n - sb * sb / n / n));
}

}  // namespace

TEST_CASE("block-wise: only the step's group is perturbed and updated, cyclically and at random",
          "[estimators][blockwise]") {
  for (BlockOrder order : {BlockOrder::cyclic, BlockOrder::random}) {
    for (Rollback mode : {Rollback::inverse, Rollback::snapshot}) {
      Model m({200, 200, 200});
      ZOSGDBlockwise opt({.learning_rate = 1e-2, .epsilon = 1e-2, .seed = 3, .rollback = mode},
                         BlockwiseRGE({.order = order}));
      auto run = opt.run(m.store);
      std::vector<int> visits(3);
      while (run.step() < 30) {
        const auto x0 = m.x;
        const Ask a = run.ask();
        const std::uint32_t g = run.estimator().group(0);
        if (order == BlockOrder::cyclic) CHECK(g == a.step % 3);
        ++visits[g];
        for (std::uint32_t b = 0; b < 3; ++b) CHECK(same_bits(m.x[b], x0[b]) == (b != g));
        run.tell(m.loss());
        run.ask();
        for (std::uint32_t b = 0; b < 3; ++b) CHECK(same_bits(m.x[b], x0[b]) == (b != g));
        REQUIRE(run.tell(m.loss()));
        for (std::uint32_t b = 0; b < 3; ++b) CHECK(same_bits(m.x[b], x0[b]) == (b != g));
      }
      if (order == BlockOrder::cyclic) CHECK(visits == std::vector<int>{10, 10, 10});
      for (int v : visits) CHECK(v > 0);
    }
  }
}

TEST_CASE("block-wise: the perturbation is eps z with an independent z per equal-shaped block",
          "[estimators][blockwise]") {
  // One group holding both equal-shaped blocks: the same direction seed, yet the block index in the Philox counter
  // must give them independent z (ZO-Bench's code reused one z for every block).
  const double eps = 1e-3;
  Model m({512, 512});
  std::vector<double> za, zb;
  ZOSGDBlockwise opt({.learning_rate = 1e-3, .epsilon = eps, .seed = 8, .rollback = Rollback::snapshot},
                     BlockwiseRGE({.groups = {{"b0", "b1"}}}));
  auto run = opt.run(m.store);
  while (run.step() < 80) {
    const auto x0 = m.x;
    const Ask a = run.ask();
    if (a.index == 0)
      for (std::size_t i = 0; i < 512; ++i) {
        za.push_back((double(m.x[0][i]) - x0[0][i]) / eps);
        zb.push_back((double(m.x[1][i]) - x0[1][i]) / eps);
        // exactly eps z(seed, block, i) to float rounding
        const double ref = random::direction_element(Direction::gaussian, direction_seed(8, a.step, 0), 1, i);
        REQUIRE(std::abs(zb.back() - ref) < 2e-3 * (1 + std::abs(x0[1][i]) / eps * 1e-4) + 1e-2);
      }
    run.tell(m.loss());
  }
  const double n = double(za.size());  // 40960 pairs: |r| ~ 1/sqrt(n) ~ 0.005
  INFO("correlation of z between the blocks " << correlation(za, zb));
  CHECK(std::abs(correlation(za, zb)) < 4 / std::sqrt(n));
  double mean = 0, var = 0;
  for (double v : za) mean += v / n;
  for (double v : za) var += (v - mean) * (v - mean) / n;
  CHECK(std::abs(mean) < 4 / std::sqrt(n));
  CHECK(std::abs(var - 1) < 6 * std::sqrt(2 / n) + 0.01);  // + float rounding of x0 + eps z
}

TEST_CASE("block-wise fair mode: q groups per step cost 2q evaluations, as RGE with q directions",
          "[estimators][blockwise]") {
  Model a({50, 50, 50, 50}), b = a;
  b.store = BufferStore();
  for (std::size_t k = 0; k < b.x.size(); ++k) b.store.add("b" + std::to_string(k), b.x[k].data(), b.x[k].size());
  ZOSGDBlockwise block({.learning_rate = 1e-3, .max_steps = 300, .seed = 1}, BlockwiseRGE({.per_step = 4}));
  ZOSGD full({.learning_rate = 1e-3, .max_steps = 300, .seed = 1}, RGE({.directions = 4}));
  const double l0 = a.loss();
  const Result rb = block.minimize([&] { return a.loss(); }, a.store);
  const Result rf = full.minimize([&] { return b.loss(); }, b.store);
  CHECK(rb.evaluations == rf.evaluations);
  CHECK(rb.evaluations == 300 * 8 + 1);
  INFO("loss from " << l0 << ": block-wise " << rb.loss << ", full " << rf.loss);
  CHECK(rb.loss < 0.7 * l0);
  CHECK(rf.loss < 0.7 * l0);
  CHECK_THROWS_WITH(ZOSGDBlockwise({}, BlockwiseRGE({.per_step = 5})).minimize([&] { return a.loss(); }, a.store),
                    Catch::Contains("exceeds the number of groups"));
}

TEST_CASE("random mask: exactly round(ratio n) coordinates per block, regenerated from the seed",
          "[estimators][sparse]") {
  const std::vector<std::size_t> sizes{300, 70, 1000, 64, 1, 4097};
  for (double ratio : {0.0, 0.013, 0.1, 0.5, 1.0}) {
    Model m(sizes);
    RandomMask mask({.ratio = ratio, .period = 3});
    mask.prepare(m.store);
    mask.begin_step(m.store, 5, 0);
    const ElementMask v = mask.view();
    for (std::uint32_t b = 0; b < sizes.size(); ++b) {
      std::size_t kept = 0;
      for (std::size_t i = 0; i < sizes[b]; ++i) kept += v.kept(b, i);
      CHECK(kept == std::size_t(std::llround(ratio * double(sizes[b]))));
    }
  }
  // The mask is a pure function of (run seed, step / period): equal within a period, new after it, same in a copy.
  Model m(sizes);
  RandomMask a({.ratio = 0.2, .period = 3}), b = a;
  a.prepare(m.store);
  b.prepare(m.store);
  auto bits = [&](RandomMask& r, std::uint64_t seed, std::uint64_t step) {
    r.begin_step(m.store, seed, step);
    std::vector<std::uint64_t> w;
    for (std::uint32_t blk = 0; blk < sizes.size(); ++blk)
      for (std::uint64_t g = 0; g * 64 < sizes[blk]; ++g) w.push_back(r.view().group_bits(blk, g));
    return w;
  };
  CHECK(bits(a, 5, 0) == bits(b, 5, 2));
  CHECK(bits(a, 5, 3) == bits(b, 5, 5));
  CHECK(bits(a, 5, 2) != bits(b, 5, 3));
  CHECK(bits(a, 5, 0) != bits(b, 6, 0));
  CHECK(a.state_bytes() == 16 * (sizes.size() + 1));  // per block, not per element
}

TEST_CASE("sparse estimators perturb and update exactly the masked coordinates", "[estimators][sparse]") {
  auto check = [](auto opt, double ratio, bool exact_count) {
    Model m({300, 1000});
    auto run = opt.run(m.store);
    while (run.step() < 6) {
      const auto x0 = m.x;
      if (run.ask().count == 3) run.tell(m.loss()), run.ask();  // the three-point estimator's first point is x0
      std::vector<std::size_t> moved(2);
      std::vector<std::vector<char>> at(2);
      for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t i = 0; i < m.x[b].size(); ++i) {
          at[b].push_back(m.x[b][i] != x0[b][i]);
          moved[b] += at[b].back();
          CHECK(bool(at[b].back()) == run.estimator().masks().mask.kept(std::uint32_t(b), i));
        }
      for (std::size_t b = 0; b < 2; ++b)
        if (exact_count) CHECK(moved[b] == std::size_t(std::llround(ratio * double(m.x[b].size()))));
      std::optional<StepInfo> s;
      while (!s) {
        s = run.tell(m.loss());
        if (!s) run.ask();
      }
      for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t i = 0; i < m.x[b].size(); ++i)
          if (exact_count && !at[b][i]) CHECK(m.x[b][i] == x0[b][i]);  // outside the mask nothing moved
    }
  };
  check(ZOSGDRandomSparse({.epsilon = 1e-2, .seed = 2}, Sparse<RGE, RandomMask>(RandomMask({.ratio = 0.05}))), 0.05,
        true);
  check(SparseMeZO({.epsilon = 1e-2, .seed = 2}, Sparse<RGE, MagnitudeMask>(MagnitudeMask({.ratio = 0.2}))), 0.2,
        true);
  check(SensitiveZOSGD({.epsilon = 1e-2, .seed = 2}, Sparse<RGE, SensitiveMask>(SensitiveMask({.ratio = 0.01}))), 0.01,
        true);
  check(SparseHiZOO({.epsilon = 1e-2, .seed = 2}, Sparse<ThreePointRGE, RandomMask>(RandomMask({.ratio = 0.1}))), 0.1,
        true);
  check(Optimizer<Sparse<RGE, RandomMask>, Adam>({.epsilon = 1e-2, .seed = 2},
                                                  Sparse<RGE, RandomMask>(RandomMask({.ratio = 0.1}))),
        0.1, false);  // Adam moves masked-out coordinates by its moments (the mask changes every step)
}

TEST_CASE("magnitude and sensitive masks pick exactly the smallest / highest-scoring coordinates",
          "[estimators][sparse]") {
  Model m({300, 77});
  MagnitudeMask mag({.ratio = 0.25, .period = 4});
  mag.prepare(m.store);
  mag.begin_step(m.store, 0, 0);
  for (std::uint32_t b = 0; b < 2; ++b) {
    float max_in = 0, min_out = 1e9f;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < m.x[b].size(); ++i) {
      const bool k = mag.view().kept(b, i);
      kept += k;
      (k ? max_in : min_out) = k ? std::max(max_in, std::abs(m.x[b][i])) : std::min(min_out, std::abs(m.x[b][i]));
    }
    CHECK(kept == std::size_t(std::llround(0.25 * double(m.x[b].size()))));
    CHECK(max_in <= min_out);
  }
  CHECK(mag.state_bytes() == 8 * (5 + 1 + 2 + 1) + 8 * 300);  // 1 bit per parameter (in words) + selection scratch

  // SensZOQ: chosen once from the score, shared by copies, never resampled.
  std::vector<float> score(300);
  for (std::size_t i = 0; i < 300; ++i) score[i] = float((i * 37) % 300);
  SensitiveMask sens({.ratio = 0.1, .score = [&](std::uint32_t b, std::size_t i, float) {
    return b == 0 ? score[i] : float(i);
  }});
  SensitiveMask copy = sens;
  sens.prepare(m.store);
  sens.begin_step(m.store, 0, 0);
  for (std::size_t i = 0; i < 300; ++i) CHECK(sens.view().kept(0, i) == (score[i] >= 270));
  for (std::size_t i = 0; i < 77; ++i) CHECK(sens.view().kept(1, i) == (i >= 77 - 8));
  m.x[0].assign(300, 0.0f);
  copy.prepare(m.store);
  copy.begin_step(m.store, 0, 50);
  for (std::size_t i = 0; i < 300; ++i) CHECK(copy.view().kept(0, i) == (score[i] >= 270));
}

TEMPLATE_TEST_CASE("forward-grad: the estimate is the analytic directional derivative", "[estimators][forward]",
                   float, double) {
  using T = TestType;
  using V = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  const int d = 1000, q = 3;
  V h(d), x0(d);
  for (int i = 0; i < d; ++i) h[i] = T(1 + i % 7), x0[i] = T(std::cos(0.1 * i));
  auto f = [&](const auto& x) {
    using S = typename std::remove_cvref_t<decltype(x)>::Scalar;
    return S((h.template cast<S>().array() * x.array().square()).sum() + sin(x.array()).sum());
  };
  auto grad = [&](const V& x) -> Eigen::VectorXd {
    return (2.0 * h.template cast<double>().array() * x.template cast<double>().array() +
            x.template cast<double>().array().cos())
        .matrix();
  };
  V x = x0;
  const double lr = 1e-4;
  std::vector<StepInfo> steps;
  std::vector<std::vector<double>> g;
  struct Rec {
    std::vector<std::vector<double>>* g;
    void on_step(const StepInfo& s) { g->emplace_back(s.projected_gradient.begin(), s.projected_gradient.end()); }
  };
  ForwardGradSGD opt({.learning_rate = lr, .max_steps = 1, .seed = 12, .evaluate_final = false},
                     ForwardGrad({.directions = q}));
  const Result r = opt.minimize(f, x, Rec{&g});
  REQUIRE(g.size() == 1);
  CHECK(r.evaluations == q);
  const Eigen::VectorXd gr = grad(x0);
  Eigen::VectorXd xr = x0.template cast<double>();
  double worst = 0;
  for (int k = 0; k < q; ++k) {
    double jvp = 0, scale = 0;
    for (int i = 0; i < d; ++i) {
      const double z = random::direction_element(Direction::gaussian, direction_seed(12, 0, k), 0, i);
      jvp += gr[i] * z;
      scale += std::abs(gr[i] * z);
      xr[i] -= lr * g[0][k] * z / q;
    }
    worst = std::max(worst, std::abs(g[0][k] - jvp) / scale);
  }
  INFO("relative error of the JVP " << worst);
  CHECK(worst < (std::is_same_v<T, float> ? 1e-5 : 1e-14));
  CHECK((x.template cast<double>() - xr).cwiseAbs().maxCoeff() < (std::is_same_v<T, float> ? 1e-6 : 1e-15));
}

TEST_CASE("forward-grad converges, and composes with a mask and with the conservative rule", "[estimators][forward]") {
  const int d = 200;
  auto f = [](const auto& x) { return (x.array() - 1.0).square().sum(); };
  Eigen::VectorXd x = Eigen::VectorXd::Zero(d);
  const Result r = ForwardGradSGD({.learning_rate = 0.5 / (d + 2), .max_steps = 1500, .seed = 1}).minimize(f, x);
  CHECK(r.loss < 1e-2 * d);
  Eigen::VectorXd y = Eigen::VectorXd::Zero(d);
  Optimizer<Sparse<ForwardGrad, RandomMask>, Identity> sparse(
      {.learning_rate = 0.1, .max_steps = 5, .seed = 1}, Sparse<ForwardGrad, RandomMask>(RandomMask({.ratio = 0.1, .period = 5})));
  sparse.minimize(f, y);
  CHECK((y.array() != 0).count() == 20);  // 5 steps on one mask of exactly 10% of 200
  struct Monotone {
    const Eigen::VectorXd* w;
    double prev;
    bool ok = true;
    int kept_x0 = 0, descents = 0;
    bool on_step(const StepInfo& s) {
      const double now = (w->array() - 1.0).square().sum();
      ok = ok && now <= prev;
      prev = now;
      kept_x0 += s.projected_gradient.back() == 0.0;
      descents += s.projected_gradient.back() == 2.0;
      return true;
    }
  };
  Eigen::VectorXd w = Eigen::VectorXd::Zero(d);
  Monotone mono{&w, f(w)};
  // lr |z|^2 is about 0.94 +- 0.09: the steps along the longest directions overshoot and are refused.
  const Result rc = Optimizer<ForwardGrad, Conservative>({.learning_rate = 0.0047, .max_steps = 200, .seed = 3})
                        .minimize(f, w, mono);
  INFO("kept x0 " << mono.kept_x0 << " times, descended " << mono.descents << " times");
  CHECK(mono.ok);
  CHECK(rc.evaluations == 200 * 4 + 1);  // 1 JVP and 3 candidates per step
  CHECK(mono.kept_x0 > 0);
  CHECK(mono.descents > 0);
  CHECK(rc.loss < d);
}

TEMPLATE_TEST_CASE("conservative: never accepts a worse point; a refused step restores x0 bit for bit",
                   "[preconditioners][cons]", float, double) {
  using T = TestType;
  std::vector<T> x(500), y(90);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = T(std::sin(double(i)));
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = T(std::cos(double(i)));
  BufferStore store;
  store.add("x", x.data(), x.size()).add("y", y.data(), y.size(), {.decay = false});
  auto loss = [&] {
    double s = 0;
    for (std::size_t i = 0; i < x.size(); ++i) s += (1 + i % 9) * std::pow(double(x[i]) - 0.3, 2);
    for (T v : y) s += std::pow(double(v) + 0.2, 2);
    return s;
  };
  for (Rollback mode : {Rollback::inverse, Rollback::snapshot}) {
    ZOSGDCons opt({.learning_rate = 8e-4, .epsilon = 1e-3, .weight_decay = 0.01, .seed = 5, .rollback = mode},
                  RGE({.directions = 2}));
    auto run = opt.run(store);
    CHECK(run.extra_bytes() == sizeof(T) * (500 + 90));  // the snapshot, whatever Options::rollback says
    int kept[3] = {0, 0, 0};
    while (run.step() < 80) {
      const auto x0 = x, y0 = y;
      const double l0 = loss();
      double cand[3] = {0, 0, 0};
      std::optional<StepInfo> s;
      while (!s) {
        const Ask a = run.ask();
        CHECK(a.count == 7);
        const double l = loss();
        if (a.index >= 4) cand[a.index - 4] = l;
        if (a.index == 4) CHECK((same_bits(x, x0) && same_bits(y, y0)));  // candidate 0 is x0, exactly
        s = run.tell(l);
      }
      REQUIRE(s->projected_gradient.size() == 3);
      const int j = int(s->projected_gradient[2]);
      ++kept[j];
      CHECK(cand[0] == l0);
      CHECK(loss() == cand[j]);  // the kept point is the evaluated one, bit for bit
      CHECK(loss() <= l0);
      CHECK(cand[j] <= std::min(cand[1], cand[2]));
      if (j == 0) CHECK((same_bits(x, x0) && same_bits(y, y0)));
    }
    INFO("kept x0 " << kept[0] << ", x0 + lr g " << kept[1] << ", x0 - lr g " << kept[2]);
    CHECK(kept[2] > 0);
    CHECK(kept[0] + kept[1] > 0);
  }
}

TEST_CASE("conservative: replay from the trajectory reproduces the run bit for bit", "[preconditioners][cons]") {
  const auto dir = fs::temp_directory_path() / ("zeroth_fam_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const Options o{.learning_rate = 5e-3, .max_steps = 60, .seed = 4};
  Model a({300, 100}), b({300, 100});
  ZOSGDCons(o).minimize([&] { return a.loss(); }, a.store, TrajectoryRecorder(dir / "cons.bin"));
  ZOSGDCons replayer(o);
  CHECK(replay(dir / "cons.bin", b.store, replayer) == 60);
  CHECK(same_bits(a.x[0], b.x[0]));
  CHECK(same_bits(a.x[1], b.x[1]));
  fs::remove_all(dir);
}

TEST_CASE("the new estimators and Cons give the same bits with 1 and 2 threads over many chunks",
          "[estimators][threads]") {
  const std::size_t n = 2 * BufferStore::kChunk + 5000;
  auto bits_for = [&](auto make, int threads) {
    Model m({n, n / 3, 300});
    auto opt = make(threads);
    opt.minimize([&] { return m.loss(); }, m.store);
    return m.x;
  };
  auto check = [&](auto make) {
    const auto a = bits_for(make, 1), b = bits_for(make, 2);
    for (std::size_t k = 0; k < a.size(); ++k) CHECK(same_bits(a[k], b[k]));
  };
  const Options base{.learning_rate = 1e-4, .max_steps = 4, .seed = 21, .evaluate_final = false};
  auto with = [&](int t) {
    Options o = base;
    o.threads = t;
    return o;
  };
  check([&](int t) { return ZOSGDBlockwise(with(t), BlockwiseRGE({.per_step = 2, .order = BlockOrder::random})); });
  check([&](int t) { return ZOSGDRandomSparse(with(t), Sparse<RGE, RandomMask>(RandomMask({.ratio = 0.3}))); });
  check([&](int t) { return SparseMeZO(with(t), Sparse<RGE, MagnitudeMask>(MagnitudeMask({.ratio = 0.3}))); });
  check([&](int t) { return ZOSGDCons(with(t), RGE({.directions = 2})); });
  check([&](int t) {
    return Optimizer<Sparse<BlockwiseRGE, RandomMask>, Adam>(
        with(t), Sparse<BlockwiseRGE, RandomMask>(RandomMask({.ratio = 0.5}), BlockwiseRGE({.per_step = 3})));
  });
}

TEST_CASE("policies compose as the concepts say", "[estimators][concepts]") {
  STATIC_REQUIRE(Estimator<BlockwiseRGE>);
  STATIC_REQUIRE(Estimator<ForwardGrad>);
  STATIC_REQUIRE(Estimator<Sparse<RGE, RandomMask>>);
  STATIC_REQUIRE(Estimator<Sparse<BlockwiseRGE, MagnitudeMask>>);
  STATIC_REQUIRE(CurvatureCompatible<Sparse<ThreePointRGE, RandomMask>, DiagonalHessian>);
  STATIC_REQUIRE(!CurvatureCompatible<Sparse<RGE, RandomMask>, DiagonalHessian>);
  STATIC_REQUIRE(!CurvatureCompatible<BlockwiseRGE, DiagonalHessian>);
  STATIC_REQUIRE(Preconditioner<Conservative>);
  STATIC_REQUIRE(CandidateRule<Conservative>);
  STATIC_REQUIRE(!CandidateRule<Adam>);
  // Sparse HiZOO and sparse momentum learn.
  Model m({400, 100});
  const double l0 = m.loss();
  SparseHiZOO({.learning_rate = 0.1, .epsilon = 1e-2, .max_steps = 400, .seed = 1},
              Sparse<ThreePointRGE, RandomMask>(RandomMask({.ratio = 0.25, .period = 20})))
      .minimize([&] { return m.loss(); }, m.store);
  CHECK(m.loss() < 0.8 * l0);
  Model n({400, 100});
  Optimizer<Sparse<RGE, RandomMask>, Momentum>({.learning_rate = 1e-4, .max_steps = 1500, .seed = 1},
                                               Sparse<RGE, RandomMask>(RandomMask({.ratio = 0.25, .period = 20})))
      .minimize([&] { return n.loss(); }, n.store);
  CHECK(n.loss() < 0.8 * l0);
}

TEST_CASE("FZOO: q one-sided evaluations per step, a step that does not depend on the objective's scale",
          "[estimators][fzoo]") {
  auto run = [](double scale, double shift, int* calls, std::uint64_t steps = 50) {
    Eigen::VectorXf x = Eigen::VectorXf::LinSpaced(64, -1.0f, 1.0f);
    FZOO opt({.learning_rate = 1e-4, .epsilon = 1e-3, .max_steps = steps, .seed = 3, .evaluate_final = false},
             NormalizedRGE({.directions = 4}));
    opt.minimize(
        [&](const Eigen::VectorXf& p) {
          ++*calls;
          double s = 0;
          for (Eigen::Index i = 0; i < p.size(); ++i) s += (1.0 + double(i % 7)) * std::pow(double(p[i]) - 0.3, 2);
          return scale * s + shift;
        },
        x);
    return x;
  };
  int calls = 0;
  const Eigen::VectorXf a = run(1.0, 0.0, &calls);
  CHECK(calls == 50 * 5);  // q + 1 per step
  int ignored = 0;
  // A power of two scales every loss difference and sigma exactly: the same bits.
  CHECK(same_bits(a, run(1024.0, 0.0, &ignored)));
  // Any other scale and a shift: the same steps up to rounding.
  const Eigen::VectorXf b = run(1e6, 12.5, &ignored);
  CHECK((a - b).cwiseAbs().maxCoeff() < 1e-4f);
  // MeZO's step, by contrast, grows with the scale.
  const Eigen::VectorXf x0 = Eigen::VectorXf::LinSpaced(64, -1.0f, 1.0f);
  CHECK((a - x0).norm() > 1e-3f);
}

TEST_CASE("FZOO: descends on a quadratic, and takes no step where every loss is equal", "[estimators][fzoo]") {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(200);
  auto f = [](const Eigen::VectorXd& p) { return 1e3 * p.squaredNorm(); };
  const double f0 = f(x);
  FZOO opt({.learning_rate = 2e-5, .epsilon = 1e-3, .max_steps = 400, .seed = 1});
  const Result r = opt.minimize(f, x);
  CHECK(r.loss < 0.5 * f0);
  CHECK(r.evaluations == 400 * 9 + 1);  // default q = 8, and the final evaluation

  Eigen::VectorXd y = Eigen::VectorXd::LinSpaced(10, 0.0, 1.0);
  const Eigen::VectorXd y0 = y;
  FZOO flat({.learning_rate = 1.0, .max_steps = 5});
  flat.minimize([](const Eigen::VectorXd&) { return 2.0; }, y);
  CHECK((y - y0).cwiseAbs().maxCoeff() < 1e-15);  // g = 0: only the perturbations' rounding (inverse rollback)

  CHECK_THROWS_WITH(NormalizedRGE({.directions = 1}), Catch::Contains("at least two perturbed losses"));
}
