// CUDA tests that need a device (they print "no CUDA device: <why>" and return without one): directions and whole
// ZO-SGD, Momentum, Adam, HiZOO and Factored steps against the CPU bit for bit, determinism, 16-bit stores, rollback, and
// failing CUDA calls.
#include "common.cuh"

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <cstring>

#include <zeroth/cuda/factored.cuh>
#include <zeroth/cuda/fused.cuh>
#include <zeroth/cuda/run.cuh>
#include <zeroth/estimators/rge.hpp>
#include <zeroth/estimators/three_point.hpp>
#include <zeroth/optimizer/run.hpp>
#include <zeroth/preconditioners/adam.hpp>
#include <zeroth/preconditioners/diagonal_hessian.hpp>
#include <zeroth/preconditioners/factored.hpp>
#include <zeroth/preconditioners/identity.hpp>
#include <zeroth/preconditioners/momentum.hpp>

using namespace zeroth;
using zeroth_test::count_different;
using zeroth_test::filled;
using zeroth_test::same_bits;

namespace {

/// A device copy of a host vector, freed at scope exit.
template <class T>
struct DeviceVector {
  T* p = nullptr;
  std::size_t n = 0;
  explicit DeviceVector(const std::vector<T>& v) : n(v.size()) {
    ZEROTH_CUDA_CHECK(cudaMalloc(&p, n * sizeof(T) + 1));
    ZEROTH_CUDA_CHECK(cudaMemcpy(p, v.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  DeviceVector(const DeviceVector&) = delete;
  ~DeviceVector() { (void)cudaFree(p); }
  std::vector<T> host() const {
    std::vector<T> v(n);
    ZEROTH_CUDA_CHECK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
};

/// The same parameters on both sides: an f32 block spanning several CPU chunks and ending inside a group, a bf16
/// block exempt from decay, a frozen block, an f16 block.
struct Mirror {
  std::vector<float> a = filled<float>(3 * BufferStore::kChunk + 777, 1);
  std::vector<bfloat16> b = filled<bfloat16>(5000, 2);
  std::vector<float> frozen = filled<float>(300, 3);
  std::vector<float16> c = filled<float16>(1029, 4);
  DeviceVector<float> da{a}, dfrozen{frozen};
  DeviceVector<bfloat16> db{b};
  DeviceVector<float16> dc{c};
  BufferStore host;
  gpu::DeviceStore device;
  /// `shaped`: a, b and c are matrices (9 x 11009, 50 x 100, 21 x 49) rather than vectors.
  explicit Mirror(bool shaped = false) {
    using S = std::vector<std::size_t>;
    const S sa = shaped ? S{9, 11009} : S{}, sb = shaped ? S{50, 100} : S{}, sc = shaped ? S{21, 49} : S{};
    host.add("a", a.data(), a.size(), {}, sa)
        .add("b", b.data(), b.size(), {.decay = false}, sb)
        .add("frozen", frozen.data(), frozen.size(), {.trainable = false})
        .add("c", c.data(), c.size(), {}, sc);
    device.add("a", da.p, da.n, {}, sa)
        .add("b", db.p, db.n, {.decay = false}, sb)
        .add("frozen", dfrozen.p, dfrozen.n, {.trainable = false})
        .add("c", dc.p, dc.n, {}, sc);
  }
  /// Number of elements whose bits differ between host and device (0 when they agree).
  std::size_t differences() {
    ZEROTH_CUDA_CHECK(cudaDeviceSynchronize());
    return count_different(a, da.host()) + count_different(b, db.host()) + count_different(c, dc.host()) +
           count_different(frozen, dfrozen.host());
  }
  double loss() const {  // a host objective of the host parameters (the same values as the device's when they agree)
    double s = 0;
    for (float v : a) s += (v - 0.01) * (v - 0.01);
    for (auto v : b) s += std::abs(to_float(v) + 0.02);
    for (auto v : c) s += 2.0 * to_float(v) * to_float(v);
    return s;
  }
};

/// Six steps of a host run and a device run over the mirrored parameters: every evaluated point and every update
/// (or rollback: step 4 meets a NaN loss at its second evaluation) agree bit for bit; after(step) checks more.
template <class HostRun, class DeviceRun, class After>
void compare_steps(Mirror& m, HostRun& host, DeviceRun& device, After after) {
  for (int step = 0; step < 6; ++step) {
    std::optional<StepInfo> hi, di;
    for (int j = 0; !hi; ++j) {
      host.ask();
      device.ask();
      REQUIRE(m.differences() == 0);  // every evaluated point
      const double loss = step == 4 && j == 1 ? NAN : m.loss();
      hi = host.tell(loss);
      di = device.tell(loss);
      REQUIRE(hi.has_value() == di.has_value());
    }
    CHECK(hi->rolled_back == di->rolled_back);
    CHECK(hi->vanished == di->vanished);
    CHECK(hi->seed == di->seed);
    REQUIRE(m.differences() == 0);  // the update (or the rollback)
    after(step);
  }
}

}  // namespace

TEST_CASE("device directions equal the CPU's bit for bit (Gaussian, Rademacher, sphere's Gaussian)", "[cuda][random]") {
  ZEROTH_REQUIRE_DEVICE();
  for (Direction kind : {Direction::gaussian, Direction::rademacher}) {
    Mirror m;
    // x <- 0 * x + 1 * z: the direction itself, in each block's type.
    const std::uint64_t seed[1] = {0xC0FFEEull};
    const double one[1] = {1.0};
    const SweepPlan p{.kind = kind, .seeds = seed, .coeff = one, .scale = 0.0, .scale_nodecay = 0.0};
    sweep(m.host, nullptr, p);
    gpu::sweep(m.device, nullptr, p);
    INFO(to_string(kind));
    CHECK(m.differences() == 0);
    for (std::size_t i = 0; i < m.a.size(); i += 4099)
      REQUIRE(m.a[i] == random::direction_element(kind, seed[0], 0, i));
  }
}

TEST_CASE("a device sweep equals the CPU sweep bit for bit, with snapshots and stochastic rounding", "[cuda][sweep]") {
  ZEROTH_REQUIRE_DEVICE();
  const std::uint64_t seeds[3] = {5, 6, 7};
  const double cd[3] = {1e-3, -2e-3, 5e-4}, cn[3] = {3e-3, 1e-4, -7e-4};
  for (Direction kind : {Direction::gaussian, Direction::rademacher}) {
    for (Rounding rounding : {Rounding::nearest, Rounding::stochastic}) {
      Mirror m;
      Snapshot hs(m.host);
      gpu::DeviceSnapshot ds(m.device);
      SweepPlan p{.kind = kind, .seeds = seeds, .coeff = cd, .coeff_nodecay = cn, .scale = 0.999,
                  .save_snapshot = true, .rounding = rounding, .rounding_seed = 42};
      const auto h1 = sweep(m.host, &hs, p);
      const auto d1 = gpu::sweep(m.device, &ds, p);
      INFO(to_string(kind) << (rounding == Rounding::stochastic ? " stochastic" : " nearest"));
      CHECK(m.differences() == 0);
      CHECK(h1.vanished == d1.vanished);
      p.save_snapshot = false;
      p.from_snapshot = true;
      p.seeds = std::span(seeds).first(2);
      const auto h2 = sweep(m.host, &hs, p);
      const auto d2 = gpu::sweep(m.device, &ds, p);
      CHECK(m.differences() == 0);
      CHECK(h2.vanished == d2.vanished);
      restore_snapshot(m.host, hs);
      gpu::restore_snapshot(m.device, ds);
      CHECK(m.differences() == 0);
      CHECK(same_bits(m.a, filled<float>(m.a.size(), 1)));
    }
  }
}

TEST_CASE("the sphere norm on the device equals the CPU's up to the order of summation", "[cuda][sphere]") {
  ZEROTH_REQUIRE_DEVICE();
  Mirror m;
  std::vector<double> partials(m.host.chunks().size());
  for (std::uint64_t seed : {1ull, 99ull}) {
    const double h = gaussian_sq_norm(m.host, seed, partials);
    const double d = gpu::gaussian_sq_norm(m.device, seed);
    CHECK(d == Approx(h).epsilon(1e-13));
    CHECK(d == gpu::gaussian_sq_norm(m.device, seed));  // deterministic
  }
}

TEST_CASE("whole ZO-SGD steps on the device equal the CPU run's bit for bit", "[cuda][run]") {
  ZEROTH_REQUIRE_DEVICE();
  struct Case {
    Direction kind;
    int q;
    Rollback rollback;
    Rounding rounding;
  };
  const Case cases[] = {{Direction::gaussian, 1, Rollback::inverse, Rounding::nearest},
                        {Direction::rademacher, 3, Rollback::snapshot, Rounding::stochastic},
                        {Direction::gaussian, 2, Rollback::snapshot, Rounding::nearest},
                        {Direction::sphere, 2, Rollback::inverse, Rounding::stochastic}};
  for (const Case& c : cases) {
    Mirror m;
    const Options o{.learning_rate = 1e-3, .epsilon = 1e-3, .weight_decay = 0.1, .max_steps = 10, .seed = 7,
                    .rollback = c.rollback, .rounding = c.rounding, .threads = 1};
    const RGE est({.directions = c.q, .direction = c.kind});
    Identity rule;
    Run<RGE, Identity> host(m.host, o, est, rule);
    gpu::Run<RGE> device(m.device, o, est);
    INFO(to_string(c.kind) << " q " << c.q);
    compare_steps(m, host, device, [](int) {});
  }
}

TEST_CASE("device runs are deterministic and take_step runs a whole step with a device objective", "[cuda][run]") {
  ZEROTH_REQUIRE_DEVICE();
  std::vector<std::vector<float>> results;
  for (int rep = 0; rep < 2; ++rep) {
    auto x = filled<float>(1 << 20, 9);
    DeviceVector<float> dx(x);
    DeviceVector<double> acc(std::vector<double>(1, 0.0));
    gpu::DeviceStore store;
    store.add("x", dx.p, dx.n);
    gpu::Run<RGE> run(store, {.learning_rate = 1e-4, .epsilon = 1e-3, .seed = 3}, RGE());
    double first = 0, last = 0;
    for (int s = 0; s < 20; ++s) {
      // The objective sum (x - 1)^2 computed on the device by Thrust, on the run's stream.
      auto info = run.take_step([&] {
        return thrust::transform_reduce(
            thrust::cuda::par.on(run.stream()), dx.p, dx.p + dx.n,
            [] __device__(float v) -> double { return double(v - 1.0f) * double(v - 1.0f); }, 0.0, thrust::plus<double>());
      });
      (s == 0 ? first : last) = info.loss;
    }
    CHECK(last < first);
    results.push_back(dx.host());
  }
  CHECK(same_bits(results[0], results[1]));
}

TEST_CASE("failing CUDA calls on a device throw with the call's name and CUDA's message", "[cuda][error]") {
  ZEROTH_REQUIRE_DEVICE();
  void* p = nullptr;
  try {
    ZEROTH_CUDA_CHECK(cudaMalloc(&p, std::size_t{1} << 62));
    FAIL("a 4 EiB allocation succeeded");
  } catch (const gpu::Error& e) {
    CHECK(e.code() == cudaErrorMemoryAllocation);
    CHECK_THAT(e.what(), Catch::Contains("cudaMalloc(&p, std::size_t{1} << 62)") &&
                             Catch::Contains(cudaGetErrorString(cudaErrorMemoryAllocation)) &&
                             Catch::Contains("test_device.cu:"));
  }
  (void)cudaGetLastError();
  // A host pointer is refused by the store; a sweep reading a snapshot it was not given is refused too.
  std::vector<float> host(16);
  gpu::DeviceStore store;
  CHECK_THROWS_WITH(store.add("h", host.data(), host.size()), Catch::Contains("not device memory"));
  DeviceVector<float> d(host);
  store.add("d", d.p, d.n);
  const std::uint64_t seed[1] = {1};
  const double c[1] = {1.0};
  CHECK_THROWS_WITH(gpu::sweep(store, nullptr, {.seeds = seed, .coeff = c, .from_snapshot = true}),
                    Catch::Contains("needs a snapshot"));
}

namespace {

// Whole steps of a rule on the host (zeroth::Run) and on the device (gpu::Run with the device rule) from the same
// parameters: every evaluated point, every update (with a NaN rollback at step 4) and the rule's state agree bit for
// bit. `host_state(rule, b)` is the host rule's state of block b, `per` its values per element.
template <class E, class HostRule, class DeviceRule, class HostState>
void check_rule_steps(const E& est, HostRule host_rule, typename DeviceRule::Options device_options, unsigned per,
                      HostState host_state) {
  for (Rounding rounding : {Rounding::nearest, Rounding::stochastic}) {
    for (Rollback rollback : {Rollback::inverse, Rollback::snapshot}) {
      Mirror m;
      const Options o{.learning_rate = 1e-3, .epsilon = 1e-3, .weight_decay = 0.1, .max_steps = 10, .seed = 7,
                      .rollback = rollback, .rounding = rounding, .threads = 1};
      Run<E, HostRule> host(m.host, o, est, host_rule);
      gpu::Run<E, DeviceRule> device(m.device, o, est, DeviceRule(device_options));
      INFO(HostRule::name << " stochastic " << (rounding == Rounding::stochastic) << " snapshot "
                          << (rollback == Rollback::snapshot));
      compare_steps(m, host, device, [&](int step) {
        const std::vector<float> ds = device.preconditioner().state().to_host();
        for (const auto& s : m.device.segments()) {
          INFO("step " << step << " block " << s.block);
          REQUIRE(std::memcmp(host_state(host.preconditioner(), s.block), ds.data() + per * s.first_element,
                              per * s.size * sizeof(float)) == 0);
        }
      });
    }
  }
}

}  // namespace

TEST_CASE("whole Momentum steps on the device equal the CPU run's bit for bit, state included", "[cuda][fused]") {
  ZEROTH_REQUIRE_DEVICE();
  for (Direction kind : {Direction::gaussian, Direction::rademacher})
    check_rule_steps<RGE, Momentum, gpu::Momentum>(RGE({.directions = 2, .direction = kind}), Momentum({.beta = 0.9}),
                                                   {.beta = 0.9}, 1,
                                                   [](Momentum& r, std::size_t b) { return r.momentum(b); });
}

TEST_CASE("whole Adam steps on the device equal the CPU run's bit for bit, state included", "[cuda][fused]") {
  ZEROTH_REQUIRE_DEVICE();
  for (Direction kind : {Direction::gaussian, Direction::rademacher, Direction::sphere})
    check_rule_steps<RGE, Adam, gpu::Adam>(RGE({.directions = 3, .direction = kind}),
                                           Adam({.beta1 = 0.8, .beta2 = 0.99}), {.beta1 = 0.8, .beta2 = 0.99}, 2,
                                           [](Adam& r, std::size_t b) { return r.moments(b); });
}

TEST_CASE("whole HiZOO steps on the device (scaled perturbations, Hessian update) equal the CPU run's bit for bit",
          "[cuda][fused]") {
  ZEROTH_REQUIRE_DEVICE();
  for (Direction kind : {Direction::gaussian, Direction::rademacher})
    check_rule_steps<ThreePointRGE, DiagonalHessian, gpu::DiagonalHessian>(
        ThreePointRGE({.direction = kind}), DiagonalHessian({.alpha = 0.1}), {.alpha = 0.1}, 1,
        [](DiagonalHessian& r, std::size_t b) { return r.inverse_sqrt_hessian(b); });
}

TEST_CASE("whole Factored steps on the device equal the CPU run's bit for bit, row and column moments included",
          "[cuda][fused][factored]") {
  ZEROTH_REQUIRE_DEVICE();
  for (bool shaped : {true, false}) {
    for (Direction kind : {Direction::gaussian, Direction::rademacher}) {
      Mirror m(shaped);
      const Options o{.learning_rate = 1e-3, .epsilon = 1e-3, .weight_decay = 0.1, .max_steps = 10, .seed = 7,
                      .rounding = Rounding::stochastic, .threads = 1};
      const RGE est({.directions = 2, .direction = kind});
      Factored host_rule({.decay = 0.8});
      Run<RGE, Factored> host(m.host, o, est, host_rule);
      gpu::Run<RGE, gpu::Factored> device(m.device, o, est, gpu::Factored({.decay = 0.8}));
      INFO("shaped " << shaped << ' ' << to_string(kind));
      compare_steps(m, host, device, [&](int step) {
        for (const auto& s : m.device.segments()) {
          INFO("step " << step << " block " << s.block);
          const auto hr = host.preconditioner().rows(s.block), hc = host.preconditioner().cols(s.block);
          const auto dr = device.preconditioner().rows(s.block), dc = device.preconditioner().cols(s.block);
          REQUIRE(dr.size() == hr.size());
          REQUIRE(dc.size() == hc.size());
          REQUIRE(std::memcmp(hr.data(), dr.data(), hr.size() * sizeof(float)) == 0);
          REQUIRE(std::memcmp(hc.data(), dc.data(), hc.size() * sizeof(float)) == 0);
        }
      });
    }
  }
}
