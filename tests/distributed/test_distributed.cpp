// zeroth/distributed under mpirun -np 1, 2, 3 and 4 (issue 13): data-parallel and direction-parallel runs give the
// same bits as one process, for every method family; a rank that throws or a shard whose loss is not finite ends the
// run on every rank with a status naming the rank and the step, the parameters rolled back. Every rank checks its own
// result against the single-process run it computes itself. Only CHECK (never REQUIRE): a rank that left a test case
// early would leave the others waiting in a collective.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <zeroth/distributed/communicator.hpp>
#include <zeroth/distributed/data_parallel.hpp>
#include <zeroth/distributed/direction_parallel.hpp>
#include <zeroth/methods.hpp>

using namespace zeroth;
namespace zd = zeroth::distributed;

namespace {

// Least squares over n examples of dimension d: example i's loss is (a_i . x - b_i)^2 + 0.1 |x_i mod d|, computed
// from x and i alone (batch-invariant), generically over the scalar (float, double, a dual for forward-grad).
struct Problem {
  static constexpr std::size_t d = 24, n = 48, batch = 12;
  std::vector<float> a, b;
  Problem() {
    for (std::size_t i = 0; i < n * d; ++i) a.push_back(static_cast<float>(std::sin(0.37 * double(i) + 1.0)));
    for (std::size_t i = 0; i < n; ++i) b.push_back(static_cast<float>(std::cos(0.11 * double(i))));
  }
  template <class S, class X>
  S example(const X& x, std::size_t i) const {
    S s(0);
    for (std::size_t j = 0; j < d; ++j) s += S(a[i * d + j]) * S(x[j]);
    const S r = s - S(b[i]);
    const S xi = x[i % d];
    return r * r + S(0.1) * (xi < S(0) ? -xi : xi);
  }
  // Per-example losses of a shard (what DataParallel gathers).
  template <class X>
  auto losses(const X& x, std::span<const std::size_t> idx) const {
    using S = std::remove_cvref_t<decltype(x[0])>;
    std::vector<S> out;
    for (std::size_t i : idx) out.push_back(example<S>(x, i));
    return out;
  }
  // The single-process batch loss: the examples' losses summed in batch order, over the batch size.
  template <class X>
  auto batch_loss(const X& x, std::span<const std::size_t> idx) const {
    using S = std::remove_cvref_t<decltype(x[0])>;
    if constexpr (is_dual<S>::value) {
      Dual<double> total{};
      for (const S& l : losses(x, idx)) total = total + Dual<double>(double(l.v), double(l.d));
      return total / double(idx.size());
    } else {
      std::vector<ExampleLoss> e;
      for (const S& l : losses(x, idx)) e.push_back({double(l), 1.0});
      return zeroth::batch_loss(e);
    }
  }
};

const Problem& problem() {
  static const Problem p;
  return p;
}

zd::Communicator& comm() {
  static zd::Communicator c;
  return c;
}

template <class V>
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(a[0]) * std::size_t(a.size())) == 0;
}
bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <class X>
X start() {
  X x(Problem::d);
  for (Eigen::Index i = 0; i < x.size(); ++i) x[i] = static_cast<typename X::Scalar>(0.05 * double(i % 5) - 0.1);
  return x;
}

// The reference (one process, the whole batch) and both distributed modes from the same start: the same bits.
template <class X, class Make>
void check_modes(const char* name, Make make, std::uint64_t steps = 12) {
  const Problem& p = problem();
  INFO(name << " on " << comm().size() << " ranks");
  auto full = [&p](const auto& x, std::span<const std::size_t> idx) { return p.batch_loss(x, idx); };
  auto shard = [&p](const auto& x, std::span<const std::size_t> idx) { return p.losses(x, idx); };

  X ref = start<X>();
  auto opt_ref = make();
  const Result r_ref = opt_ref.minimize(Minibatch(full, Problem::n, Problem::batch, 7), ref);

  X xd = start<X>();
  auto opt_d = make();
  zd::DataParallel data(comm(), shard, Problem::n, Problem::batch, 7);
  const Result r_d = opt_d.minimize(data, xd);
  CHECK(r_d.status == r_ref.status);
  CHECK(r_d.steps == steps);
  CHECK(same_double(r_d.loss, r_ref.loss));
  CHECK(same_bits(xd, ref));

  X xq = start<X>();
  auto opt_q = make();
  zd::DirectionParallel directions(comm(), Minibatch(full, Problem::n, Problem::batch, 7));
  const Result r_q = opt_q.minimize(directions, xq);
  CHECK(r_q.status == r_ref.status);
  CHECK(r_q.evaluations == r_ref.evaluations);
  CHECK(same_double(r_q.loss, r_ref.loss));
  CHECK(same_bits(xq, ref));
}

// A callback that tells the objective which step is under way.
struct StepCounter {
  std::uint64_t& step;
  void on_step(const StepInfo& s) { step = s.step + 1; }
};

// Stops a run after n steps (without the final evaluation's difference: minimize evaluates once more at the end).
struct StopAfter {
  std::uint64_t n;
  bool on_step(const StepInfo& s) const { return s.step + 1 < n; }
};

// One process whose first evaluation of step `fail` is NaN: the parameters a failed distributed run must end with
// (the same rollback from the same point).
template <class Opt>
Eigen::VectorXf failing_reference(Opt opt, std::uint64_t fail) {
  const Problem& p = problem();
  std::uint64_t step = 0;
  Eigen::VectorXf x = start<Eigen::VectorXf>();
  const Result r = opt.minimize(Minibatch(
                                    [&](const auto& v, auto idx) {
                                      return step == fail ? std::numeric_limits<double>::quiet_NaN()
                                                          : p.batch_loss(v, idx);
                                    },
                                    Problem::n, Problem::batch, 7),
                                x, StepCounter{step});
  CHECK(r.status == Status::non_finite_loss);
  return x;
}

Options options(double lr = 2e-3) { return {.learning_rate = lr, .epsilon = 1e-3, .max_steps = 12, .seed = 3}; }

}  // namespace

TEST_CASE("data- and direction-parallel runs give the single-process bits, for every method family", "[mpi]") {
  check_modes<Eigen::VectorXf>("ZO-SGD", [] { return ZOSGD(options()); });
  check_modes<Eigen::VectorXf>("ZO-SGD q=3", [] { return ZOSGD(options(), RGE({.directions = 3})); });
  check_modes<Eigen::VectorXf>("ZO-SGD one-sided q=4", [] {
    return ZOSGD(options(), RGE({.directions = 4, .one_sided = true}));
  });
  check_modes<Eigen::VectorXf>("ZO-Adam q=2", [] { return ZOAdam(options(1e-2), RGE({.directions = 2})); });
  check_modes<Eigen::VectorXf>("HiZOO", [] { return HiZOO(options(1e-4)); });
  check_modes<Eigen::VectorXf>("ZO-SGD-Cons q=2 (candidates)", [] { return ZOSGDCons(options(), RGE({.directions = 2})); });
  check_modes<Eigen::VectorXf>("random-sparse ZO-SGD (a mask)", [] {
    return ZOSGDRandomSparse(options(), Sparse<RGE, RandomMask>(RandomMask({.ratio = 0.3})));
  });
  check_modes<Eigen::VectorXf>("ZO-SGD-Sign q=2", [] { return ZOSGDSign(options(1e-3), RGE({.directions = 2})); });
  check_modes<Eigen::VectorXf>("ZO-SGD-Momentum", [] { return ZOSGDMomentum(options()); });
  check_modes<Eigen::VectorXf>("SparseMeZO (a magnitude mask)", [] {
    return SparseMeZO(options(), Sparse<RGE, MagnitudeMask>(MagnitudeMask({.ratio = 0.3})));
  });
  check_modes<Eigen::VectorXf>("SensitiveZOSGD (a static mask)", [] {
    return SensitiveZOSGD(options(), Sparse<RGE, SensitiveMask>(SensitiveMask({.ratio = 0.3})));
  });
  check_modes<Eigen::VectorXf>("SparseHiZOO", [] {
    return SparseHiZOO(options(1e-4), Sparse<ThreePointRGE, RandomMask>(RandomMask({.ratio = 0.3})));
  });
  check_modes<Eigen::VectorXf>("FZOO q=5", [] { return FZOO(options(1e-2), NormalizedRGE({.directions = 5})); });
  check_modes<Eigen::VectorXf>("ZO-Factored", [] { return ZOFactored(options(1e-2)); });
  check_modes<Eigen::VectorXd>("Forward-Grad q=3 (JVPs)", [] {
    return ForwardGradSGD(options(), ForwardGrad({.directions = 3}));
  });
  check_modes<Eigen::VectorXf>("snapshot rollback, q=2", [] {
    Options o = options();
    o.rollback = Rollback::snapshot;
    return ZOSGD(o, RGE({.directions = 2}));
  });
}

TEST_CASE("block-wise ZO-SGD over a store of 4 blocks, data- and direction-parallel", "[mpi]") {
  const Problem& p = problem();
  auto run = [&](int mode) {
    std::vector<float> x(Problem::d);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.01f * float(i % 7);
    BufferStore store;
    for (int b = 0; b < 4; ++b)
      store.add_block(Block{.name = "b" + std::to_string(b), .data = x.data() + b * 6, .size = 6});
    ZOSGDBlockwise opt(options(), BlockwiseRGE({.per_step = 2}));
    auto full = [&](std::span<const std::size_t> idx) { return p.batch_loss(x, idx); };
    if (mode == 0) opt.minimize(Minibatch(full, Problem::n, Problem::batch, 7), store);
    if (mode == 1) {
      zd::DataParallel f(comm(), [&](std::span<const std::size_t> idx) { return p.losses(x, idx); }, Problem::n,
                         Problem::batch, 7);
      opt.minimize(f, store);
    }
    if (mode == 2) {
      zd::DirectionParallel f(comm(), Minibatch(full, Problem::n, Problem::batch, 7));
      opt.minimize(f, store);
    }
    return x;
  };
  const auto ref = run(0);
  CHECK(same_bits(run(1), ref));
  CHECK(same_bits(run(2), ref));
}

TEST_CASE("DataParallel and DirectionParallel through the ask/tell Run give the single-process bits", "[mpi]") {
  const Problem& p = problem();
  auto drive = [&](auto& f) {
    Eigen::VectorXf x = start<Eigen::VectorXf>();
    EigenStore store(x);
    ZOAdam opt(options(1e-2));
    auto run = opt.run(store);
    while (run.step() < 10) {
      f.next_batch(run.step());
      run.ask();
      run.tell(f(x));
    }
    return x;
  };
  auto full = Minibatch([&](const auto& x, std::span<const std::size_t> idx) { return p.batch_loss(x, idx); },
                        Problem::n, Problem::batch, 7);
  zd::DataParallel data(comm(), [&](const auto& x, std::span<const std::size_t> idx) { return p.losses(x, idx); },
                        Problem::n, Problem::batch, 7);
  CHECK(same_bits(drive(data), drive(full)));
  // DirectionParallel through the Run: take_step() is one whole step (its points shared out, its losses gathered).
  Eigen::VectorXf x = start<Eigen::VectorXf>();
  EigenStore store(x);
  ZOAdam opt(options(1e-2), RGE({.directions = 3}));
  auto run = opt.run(store);
  zd::DirectionParallel g(comm(), full);
  while (run.step() < 10) {
    g.next_batch(run.step());
    g.take_step(run, x);
  }
  Eigen::VectorXf y = start<Eigen::VectorXf>();
  ZOAdam(options(1e-2), RGE({.directions = 3})).minimize(full, y, StopAfter{10});
  CHECK(same_bits(x, y));
}

TEST_CASE("a rank that throws ends the run on every rank, naming the rank and the step, rolled back", "[mpi]") {
  const Problem& p = problem();
  const int last = comm().size() - 1;
  const Eigen::VectorXf ref = failing_reference(ZOSGD(options()), 3);
  SECTION("data-parallel") {
    std::uint64_t step = 0;
    Eigen::VectorXf x = start<Eigen::VectorXf>();
    zd::DataParallel f(
        comm(),
        [&](const auto& v, std::span<const std::size_t> idx) {
          if (step == 3 && comm().rank() == last) throw std::runtime_error("bad input on this rank");
          return p.losses(v, idx);
        },
        Problem::n, Problem::batch, 7);
    const Result r = ZOSGD(options()).minimize(f, x, StepCounter{step});
    CHECK(r.status == Status::rank_failed);
    CHECK_THAT(r.message, Catch::Contains("rank " + std::to_string(last) + " failed at step 3: bad input on this rank"));
    CHECK(r.steps == 4);  // steps 0-2, then step 3 rolled back
    CHECK(same_bits(x, ref));
  }
  SECTION("direction-parallel, q = 4") {
    const Eigen::VectorXf ref4 = failing_reference(ZOSGD(options(), RGE({.directions = 4})), 3);
    std::uint64_t step = 0;
    Eigen::VectorXf x = start<Eigen::VectorXf>();
    zd::DirectionParallel f(comm(), Minibatch(
                                        [&](const auto& v, auto idx) {
                                          if (step == 3 && comm().rank() == last) throw std::runtime_error("boom");
                                          return p.batch_loss(v, idx);
                                        },
                                        Problem::n, Problem::batch, 7));
    const Result r = ZOSGD(options(), RGE({.directions = 4})).minimize(f, x, StepCounter{step});
    CHECK(r.status == Status::rank_failed);
    CHECK_THAT(r.message, Catch::Contains("rank " + std::to_string(last) + " failed at step 3: boom"));
    CHECK(same_bits(x, ref4));
  }
}

TEST_CASE("a non-finite loss on one shard rolls the step back on every rank and names the rank", "[mpi]") {
  const Problem& p = problem();
  const int last = comm().size() - 1;
  const Eigen::VectorXf ref = failing_reference(ZOSGD(options()), 2);
  std::uint64_t step = 0;
  Eigen::VectorXf x = start<Eigen::VectorXf>();
  zd::DataParallel f(
      comm(),
      [&](const auto& v, std::span<const std::size_t> idx) {
        auto l = p.losses(v, idx);
        if (step == 2 && comm().rank() == last) l.back() = std::numeric_limits<float>::quiet_NaN();
        return l;
      },
      Problem::n, Problem::batch, 7);
  const Result r = ZOSGD(options()).minimize(f, x, StepCounter{step});
  CHECK(r.status == Status::non_finite_loss);
  CHECK_THAT(r.message, Catch::Contains("evaluated by rank " + std::to_string(last)));
  CHECK_THAT(r.message, Catch::Contains("at step 2"));
  CHECK(same_bits(x, ref));
}

TEST_CASE("share() splits n items over the ranks contiguously, the first n % ranks one larger", "[mpi]") {
  std::size_t next = 0;
  for (int r = 0; r < 3; ++r) {
    const zd::Share s = zd::share(7, 3, r);
    CHECK(s.begin == next);
    CHECK(s.size() == (r == 0 ? 3u : 2u));
    next = s.end;
  }
  CHECK(next == 7);
  CHECK(zd::share(1, 4, 3).size() == 0);
}
