// CUDA tests that need no GPU: error messages, store validation, and the device element code compiled for the host
// checked bit for bit against the CPU path (directions, 16-bit rounding, whole sweeps, the fused rules' bodies).
#include "common.cuh"

#include <cmath>
#include <limits>
#include <string>

#include <zeroth/cuda/device_store.cuh>
#include <zeroth/cuda/detail/element.cuh>
#include <zeroth/cuda/factored.cuh>
#include <zeroth/cuda/fused.cuh>
#include <zeroth/preconditioners/adam.hpp>
#include <zeroth/preconditioners/diagonal_hessian.hpp>
#include <zeroth/preconditioners/factored.hpp>
#include <zeroth/preconditioners/momentum.hpp>
#include <zeroth/sweeps/fused.hpp>
#include <zeroth/sweeps/sweep.hpp>

using namespace zeroth;
using zeroth_test::filled;
using zeroth_test::same_bits;

TEST_CASE("a failed CUDA call throws naming the call, the file, the line and CUDA's description", "[cuda][error]") {
  try {
    gpu::check(cudaErrorMemoryAllocation, "cudaMalloc(&p, n)", "store.cu", 12);
    FAIL("no exception");
  } catch (const gpu::Error& e) {
    CHECK(e.code() == cudaErrorMemoryAllocation);
    CHECK(std::string(e.what()) == std::string("zeroth: CUDA call 'cudaMalloc(&p, n)' failed at store.cu:12: "
                                               "cudaErrorMemoryAllocation (") +
                                       cudaGetErrorString(cudaErrorMemoryAllocation) + ")");
  }
  CHECK_NOTHROW(gpu::check(cudaSuccess, "cudaFree(p)", "store.cu", 13));

  // A real call that fails with or without a device: device -1 never exists.
  int line = 0;
  try {
    line = __LINE__ + 1;
    ZEROTH_CUDA_CHECK(cudaSetDevice(-1));
    FAIL("no exception");
  } catch (const gpu::Error& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK(e.code() != cudaSuccess);
    CHECK(m.find("'cudaSetDevice(-1)'") != std::string::npos);
    CHECK(m.find("test_host.cu:" + std::to_string(line)) != std::string::npos);
    CHECK(m.find(cudaGetErrorString(e.code())) != std::string::npos);
    CHECK(m.find(cudaGetErrorName(e.code())) != std::string::npos);
  }
  (void)cudaGetLastError();
}

TEST_CASE("a DeviceStore rejects float64, unnamed, duplicate and null blocks before touching the device",
          "[cuda][store]") {
  gpu::DeviceStore store;
  double d[4];
  CHECK_THROWS_WITH(store.add("w", d, 4), Catch::Contains("float64"));
  float* none = nullptr;
  CHECK_THROWS_WITH(store.add("", none, 0), Catch::Contains("needs a name"));
  CHECK_THROWS_WITH(store.add("w", none, 10), Catch::Contains("null data"));
  CHECK_NOTHROW(store.add("empty", none, 0));  // an empty block needs no memory and no device
  CHECK_THROWS_WITH(store.add("empty", none, 0), Catch::Contains("duplicate"));
  CHECK(store.dimension() == 0);
}

TEST_CASE("device direction code, compiled for the host, gives the CPU's directions bit for bit", "[cuda][random]") {
  for (bool rademacher : {false, true}) {
    const Direction kind = rademacher ? Direction::rademacher : Direction::gaussian;
    for (std::uint64_t seed : {0ull, 1ull, 0x9E3779B97F4A7C15ull}) {
      for (std::uint32_t block : {0u, 7u}) {
        // Low counters and counters past 2^32 (the second counter word).
        for (std::uint64_t base : {std::uint64_t{0}, (std::uint64_t{1} << 32) - 64, std::uint64_t{1} << 36}) {
          for (std::uint64_t c = base; c < base + 512; ++c) {
            float z[4];
            rademacher ? gpu::detail::direction4<true>(seed, block, c, z)
                       : gpu::detail::direction4<false>(seed, block, c, z);
            const std::uint64_t first = (c / 16) * 64 + c % 16;
            for (int j = 0; j < 4; ++j) {
              const float ref = random::direction_element(kind, seed, block, first + 16 * j);
              if (std::memcmp(&ref, &z[j], 4) != 0) {
                INFO(to_string(kind) << " seed " << seed << " block " << block << " element " << first + 16 * j);
                REQUIRE(z[j] == ref);
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("device 16-bit conversions and stochastic rounding, compiled for the host, match dtype.hpp",
          "[cuda][dtype]") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const float a = gpu::detail::widen(bfloat16{static_cast<std::uint16_t>(b)});
    const float c = to_float(bfloat16{static_cast<std::uint16_t>(b)});
    REQUIRE(std::memcmp(&a, &c, 4) == 0);
    const float e = gpu::detail::widen(float16{static_cast<std::uint16_t>(b)});
    const float f = to_float(float16{static_cast<std::uint16_t>(b)});
    REQUIRE(std::memcmp(&e, &f, 4) == 0);
  }
  for (std::uint64_t i = 0; i < 400000; ++i) {
    const auto w = random::philox(3, 0, i, Stream::sampling);
    // Every bit pattern class: random bits (NaN, Inf, subnormals included) and values near 16-bit ranges.
    const float f = i % 2 ? std::bit_cast<float>(w[0]) : (float(w[1] >> 8) / 16777216.0f - 0.5f) * std::ldexp(1.0f, int(w[2] % 40) - 24);
    REQUIRE(gpu::detail::narrow<bfloat16>(f).bits == to_bfloat16(f).bits);
    REQUIRE(gpu::detail::narrow<float16>(f).bits == to_float16(f).bits);
    REQUIRE(gpu::detail::round_stochastic<bfloat16>(f, w[3]).bits == round_stochastic<bfloat16>(f, w[3]).bits);
    REQUIRE(gpu::detail::round_stochastic<float16>(f, w[3]).bits == round_stochastic<float16>(f, w[3]).bits);
  }
}

namespace {

// Runs the device sweep's per-thread body on the host over every counter of each block, as the kernel would.
template <class T>
std::size_t emulate(const SweepPlan& p, std::vector<T>& x, std::vector<T>* snap, std::uint32_t block, bool decay,
                    const gpu::detail::SweepArgs& a) {
  const gpu::detail::Segment s{x.data(), x.size(), 0, 0, 0, block, decay ? 1u : 0u, 0};
  std::size_t vanished = 0;
  for (std::uint64_t c = 0; c < (x.size() + 63) / 64 * 16; ++c) {
    std::uint32_t round[4] = {0, 0, 0, 0};
    if (a.stochastic) gpu::detail::rounding_words_direct(a.rounding_seed, block, c, round);
    T* sp = snap ? snap->data() : nullptr;
    vanished += p.kind == Direction::rademacher ? gpu::detail::sweep_counter<T, true>(a, s, c, x.data(), sp, round)
                                                : gpu::detail::sweep_counter<T, false>(a, s, c, x.data(), sp, round);
  }
  return vanished;
}

gpu::detail::SweepArgs args_of(const SweepPlan& p) {
  gpu::detail::SweepArgs a{};
  a.terms = static_cast<std::uint32_t>(p.seeds.size());
  for (std::size_t k = 0; k < p.seeds.size(); ++k) {
    a.seeds[k] = p.seeds[k];
    a.coeff[k] = float(p.coeff[k]);
    a.coeff_nodecay[k] = float(p.coeff_nodecay.empty() ? p.coeff[k] : p.coeff_nodecay[k]);
  }
  a.scale = float(p.scale);
  a.scale_nodecay = float(p.scale_nodecay);
  a.rounding_seed = p.rounding_seed;
  a.from_snapshot = p.from_snapshot;
  a.save_snapshot = p.save_snapshot;
  a.stochastic = p.rounding == Rounding::stochastic;
  return a;
}

}  // namespace

TEMPLATE_TEST_CASE("the device sweep body, run on the host, reproduces zeroth::sweep bit for bit", "[cuda][sweep]",
                   float, bfloat16, float16) {
  const std::uint64_t seeds[3] = {11, 12, 13};
  const double cd[3] = {1e-3, -2e-3, 5e-4}, cn[3] = {3e-3, 1e-4, -7e-4};
  for (Direction kind : {Direction::gaussian, Direction::rademacher, Direction::sphere}) {
    for (Rounding rounding : {Rounding::nearest, Rounding::stochastic}) {
      for (std::size_t terms : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
        for (int snapmode = 0; snapmode < 3; ++snapmode) {  // none, save, read
          auto x = filled<TestType>(BufferStore::kChunk + 1001, 5), y = filled<TestType>(77, 6);
          auto sx = filled<TestType>(x.size(), 7), sy = filled<TestType>(y.size(), 8);
          auto ex = x, ey = y, esx = sx, esy = sy;
          BufferStore store;
          store.add("x", x.data(), x.size()).add("y", y.data(), y.size(), {.decay = false});
          Snapshot snapshot(store);
          std::memcpy(snapshot.block(0), sx.data(), sx.size() * sizeof(TestType));
          std::memcpy(snapshot.block(1), sy.data(), sy.size() * sizeof(TestType));
          const SweepPlan p{.kind = kind, .seeds = std::span(seeds).first(terms), .coeff = cd, .coeff_nodecay = cn,
                            .scale = 0.999, .scale_nodecay = 1.0, .from_snapshot = snapmode == 2,
                            .save_snapshot = snapmode == 1, .rounding = rounding, .rounding_seed = 99};
          const auto st = sweep(store, &snapshot, p, 1);
          const auto a = args_of(p);
          std::size_t vanished = emulate(p, ex, &esx, 0, true, a) + emulate(p, ey, &esy, 1, false, a);
          INFO(to_string(kind) << " terms " << terms << " snapshot mode " << snapmode << " stochastic "
                               << (rounding == Rounding::stochastic));
          CHECK(same_bits(x, ex));
          CHECK(same_bits(y, ey));
          CHECK(std::memcmp(snapshot.block(0), esx.data(), sx.size() * sizeof(TestType)) == 0);
          CHECK(std::memcmp(snapshot.block(1), esy.data(), sy.size() * sizeof(TestType)) == 0);
          CHECK(vanished == st.vanished);
        }
      }
    }
  }
}

namespace {

// The fused plan as kernel parameters, as gpu::detail::make_fused_args builds it, with `back_scale` the host state.
gpu::detail::FusedArgs fused_args_of(const FusedPlan& p, const float* back_scale) {
  gpu::detail::FusedArgs a{};
  a.terms = static_cast<std::uint32_t>(p.seeds.size());
  for (std::size_t k = 0; k < p.seeds.size(); ++k) {
    a.seeds[k] = p.seeds[k];
    a.coeff[k] = float(p.coeff[k]);
    a.back[k] = p.back.empty() ? 0.0f : float(p.back[k]);
  }
  a.has_back = !p.back.empty();
  a.back_scale = p.back_scale.empty() ? nullptr : back_scale;
  a.from_snapshot = p.from_snapshot;
  a.rounding_seed = p.rounding_seed;
  a.stochastic = p.rounding == Rounding::stochastic;
  return a;
}

// Runs the fused kernel's per-thread body on the host over every counter of one block, as the kernel would.
template <class T, class F>
std::size_t emulate_fused(const gpu::detail::FusedArgs& a, Direction kind, std::vector<T>& x, const T* snap,
                          std::uint32_t block, bool decay, std::uint64_t first_element, float* state, const F& f) {
  const gpu::detail::Segment s{x.data(), x.size(), 0, 0, 0, block, decay ? 1u : 0u, first_element};
  std::size_t vanished = 0;
  for (std::uint64_t c = 0; c < (x.size() + 63) / 64 * 16; ++c) {
    std::uint32_t round[4] = {0, 0, 0, 0};
    if (a.stochastic) gpu::detail::rounding_words_direct(a.rounding_seed, block, c, round);
    vanished += kind == Direction::rademacher
                    ? gpu::detail::fused_counter<T, true>(a, s, c, x.data(), snap, state, f, round)
                    : gpu::detail::fused_counter<T, false>(a, s, c, x.data(), snap, state, f, round);
  }
  return vanished;
}

// Two steps' updates of a rule on the CPU (rule.update over a BufferStore) and by the device body on host copies,
// from the same parameters, snapshot and state: x, the state and the vanished count must agree bit for bit.
// `plan(c)` is the rule's fused plan, `element(c)` its float element step, `state(rule, b)` its state of block b.
template <class T, class Rule, class Plan, class Element, class State>
void check_rule_body(Rule rule, unsigned per, float init, int q, Plan plan, Element element, State state) {
  const std::uint64_t seeds[3] = {21, 22, 23};
  const double norms[3] = {1.0, 0.9, 1.1}, offset[3] = {1e-3, -1e-3, 2e-3};
  for (Direction kind : {Direction::gaussian, Direction::rademacher}) {
    for (Rounding rounding : {Rounding::nearest, Rounding::stochastic}) {
      for (bool from_snapshot : {false, true}) {
        auto x = filled<T>(BufferStore::kChunk + 1001, 5), y = filled<T>(77, 6);
        auto sx = filled<T>(x.size(), 7), sy = filled<T>(y.size(), 8);
        auto ex = x, ey = y;
        BufferStore store;
        store.add("x", x.data(), x.size()).add("y", y.data(), y.size(), {.decay = false});
        Snapshot snapshot(store);
        std::memcpy(snapshot.block(0), sx.data(), sx.size() * sizeof(T));
        std::memcpy(snapshot.block(1), sy.data(), sy.size() * sizeof(T));
        Rule r = rule;
        r.prepare(store);
        std::vector<float> es(per * (x.size() + y.size()), init);
        for (int step = 0; step < 2; ++step) {
          const double g[3] = {0.5 - step, -0.25, 2.0 * step + 0.1};  // HiZOO reads (g, kappa)
          std::vector<double> sa(3), sb(3);
          UpdateContext c{.store = store, .snapshot = &snapshot, .direction = kind,
                          .seeds = std::span(seeds).first(q), .norms = std::span(norms).first(q),
                          .offset = std::span(offset).first(q), .g = std::span(g).first(q == 1 ? 2 : q),
                          .learning_rate = 1e-2, .weight_decay = 0.1, .from_snapshot = from_snapshot,
                          .rounding = rounding, .rounding_seed = 99u + step, .threads = 1,
                          .scratch_a = sa, .scratch_b = sb};
          // The device body first (the CPU update changes x), from the plan the CPU rule builds.
          std::vector<double> da(3), db(3);
          UpdateContext d = c;
          d.scratch_a = da;
          d.scratch_b = db;
          const FusedPlan p = plan(r, d);
          const auto a = fused_args_of(p, es.data());
          const auto f = element(r, d);
          const std::size_t vanished =
              emulate_fused(a, kind, ex, from_snapshot ? sx.data() : nullptr, 0, true, 0, es.data(), f) +
              emulate_fused(a, kind, ey, from_snapshot ? sy.data() : nullptr, 1, false, x.size(), es.data(), f);
          const auto st = r.update(c);
          INFO(Rule::name << ' ' << to_string(kind) << " stochastic " << (rounding == Rounding::stochastic)
                          << " from snapshot " << from_snapshot << " step " << step);
          REQUIRE(same_bits(x, ex));
          REQUIRE(same_bits(y, ey));
          REQUIRE(std::memcmp(state(r, 0), es.data(), per * x.size() * sizeof(float)) == 0);
          REQUIRE(std::memcmp(state(r, 1), es.data() + per * x.size(), per * y.size() * sizeof(float)) == 0);
          REQUIRE(vanished == st.vanished);
        }
      }
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("the fused device body of Momentum, Adam and HiZOO, run on the host, reproduces the CPU rules bit "
                   "for bit",
                   "[cuda][fused]", float, bfloat16, float16) {
  SECTION("momentum") {
    check_rule_body<TestType>(
        Momentum({.beta = 0.9}), 1, 0.0f, 3, [](Momentum&, UpdateContext& c) { return gradient_plan(c); },
        [](Momentum& r, UpdateContext& c) {
          return Momentum::element<float>(r.options(), c.learning_rate, c.weight_decay);
        },
        [](Momentum& r, std::size_t b) { return r.momentum(b); });
  }
  SECTION("adam") {
    check_rule_body<TestType>(
        Adam({.beta1 = 0.8, .beta2 = 0.99}), 2, 0.0f, 3, [](Adam&, UpdateContext& c) { return gradient_plan(c); },
        [](Adam& r, UpdateContext& c) {
          return Adam::element<float>(r.options(), c.learning_rate, c.weight_decay, r.updates() + 1);
        },
        [](Adam& r, std::size_t b) { return r.moments(b); });
  }
  SECTION("diagonal Hessian") {
    check_rule_body<TestType>(
        DiagonalHessian({.alpha = 0.1}), 1, 1.0f, 1,
        [](DiagonalHessian& r, UpdateContext& c) { return DiagonalHessian::plan(c, r.direction_scale()); },
        [](DiagonalHessian& r, UpdateContext& c) { return DiagonalHessian::element<float>(r.options(), c); },
        [](DiagonalHessian& r, std::size_t b) { return r.inverse_sqrt_hessian(b); });
  }
}

TEMPLATE_TEST_CASE("the device bodies of Factored (row, column and block passes, update), run on the host, reproduce "
                   "the CPU rule bit for bit",
                   "[cuda][fused][factored]", float, bfloat16, float16) {
  using T = TestType;
  namespace gd = gpu::detail;
  const std::uint64_t seeds[2] = {41, 42};
  const double norms[2] = {1.0, 0.9}, offset[2] = {1e-3, -1e-3};
  const std::size_t R = 37, C = 300;  // 37 rows: row parts of 4 and 5 rows; a matrix, then a vector block
  for (Direction kind : {Direction::gaussian, Direction::rademacher}) {
    for (Rounding rounding : {Rounding::nearest, Rounding::stochastic}) {
      for (bool from_snapshot : {false, true}) {
        auto x = filled<T>(R * C, 5), y = filled<T>(77, 6);
        auto sx = filled<T>(x.size(), 7), sy = filled<T>(y.size(), 8);
        auto ex = x, ey = y;
        BufferStore store;
        store.add("x", x.data(), x.size(), {}, {R, C}).add("y", y.data(), y.size(), {.decay = false});
        Snapshot snapshot(store);
        std::memcpy(snapshot.block(0), sx.data(), sx.size() * sizeof(T));
        std::memcpy(snapshot.block(1), sy.data(), sy.size() * sizeof(T));
        Factored rule({.decay = 0.8, .eps1 = 1e-30});
        rule.prepare(store);
        // The device rule's buffers, on the host.
        std::vector<float> r0(R), c0(C), r1(1), c1(y.size());
        std::vector<double> x20(R), u20(R), x21(1), u21(1);
        std::vector<gd::FactoredBlock> fb{{r0.data(), c0.data(), x20.data(), u20.data(), R, C},
                                          {r1.data(), c1.data(), x21.data(), u21.data(), 1, y.size()}};
        const gd::Segment segs[2] = {{ex.data(), ex.size(), 0, 0, 0, 0, 1u, 0},
                                     {ey.data(), ey.size(), 0, 0, 0, 1, 0u, ex.size()}};
        const T* snaps[2] = {from_snapshot ? sx.data() : nullptr, from_snapshot ? sy.data() : nullptr};
        for (int step = 0; step < 2; ++step) {
          const double g[2] = {0.5 - step, -0.25};
          std::vector<double> sa(2), sb(2), da(2), db(2);
          UpdateContext c{.store = store, .snapshot = &snapshot, .direction = kind, .seeds = seeds, .norms = norms,
                          .offset = offset, .g = g, .learning_rate = 1e-2, .weight_decay = 0.1,
                          .from_snapshot = from_snapshot, .rounding = rounding, .rounding_seed = 99u + step,
                          .threads = 1, .scratch_a = sa, .scratch_b = sb};
          UpdateContext d = c;
          d.scratch_a = da;
          d.scratch_b = db;
          const auto a = fused_args_of(gradient_plan(d), nullptr);
          const double beta = 1.0 - std::pow(double(step + 1), -0.8);
          const bool rad = kind == Direction::rademacher;
          for (int k = 0; k < 2; ++k) {
            const T* xs = static_cast<const T*>(segs[k].data);
            for (std::uint64_t row = 0; row < fb[k].rows; ++row)
              rad ? gd::factored_row<T, true>(a, segs[k], xs, snaps[k], fb[k], row, 1e-30, beta)
                  : gd::factored_row<T, false>(a, segs[k], xs, snaps[k], fb[k], row, 1e-30, beta);
            for (std::uint64_t col = 0; col < fb[k].cols; ++col)
              rad ? gd::factored_col<T, true>(a, segs[k], xs, snaps[k], fb[k], col, 1e-30, beta)
                  : gd::factored_col<T, false>(a, segs[k], xs, snaps[k], fb[k], col, 1e-30, beta);
            gd::factored_mean(fb[k]);
            for (std::uint64_t row = 0; row < fb[k].rows; ++row)
              rad ? gd::factored_row_u2<T, true>(a, segs[k], xs, snaps[k], fb[k], row)
                  : gd::factored_row_u2<T, false>(a, segs[k], xs, snaps[k], fb[k], row);
            gd::factored_step(fb[k], 1e-2, 1e-3);
          }
          const gd::FactoredElement f{fb.data(), 1.0 - 1e-2 * 0.1};
          const std::size_t vanished = emulate_fused(a, kind, ex, snaps[0], 0, true, 0, nullptr, f) +
                                       emulate_fused(a, kind, ey, snaps[1], 1, false, x.size(), nullptr, f);
          const auto st = rule.update(c);
          INFO(to_string(kind) << " stochastic " << (rounding == Rounding::stochastic) << " from snapshot "
                               << from_snapshot << " step " << step);
          REQUIRE(same_bits(x, ex));
          REQUIRE(same_bits(y, ey));
          REQUIRE(std::memcmp(rule.rows(0).data(), r0.data(), R * sizeof(float)) == 0);
          REQUIRE(std::memcmp(rule.cols(0).data(), c0.data(), C * sizeof(float)) == 0);
          REQUIRE(std::memcmp(rule.rows(1).data(), r1.data(), sizeof(float)) == 0);
          REQUIRE(std::memcmp(rule.cols(1).data(), c1.data(), y.size() * sizeof(float)) == 0);
          REQUIRE(vanished == st.vanished);
        }
      }
    }
  }
}

TEST_CASE("the device sweep body applies a direction scale as the CPU sweep does", "[cuda][sweep]") {
  const std::uint64_t seeds[2] = {31, 32};
  const double cd[2] = {1e-3, -2e-3};
  for (Direction kind : {Direction::gaussian, Direction::rademacher}) {
    auto x = filled<float>(BufferStore::kChunk + 1001, 5), y = filled<float>(77, 6);
    auto ex = x, ey = y;
    std::vector<float> scale(x.size() + y.size());
    for (std::size_t i = 0; i < scale.size(); ++i) scale[i] = 0.5f + float(i % 7) * 0.25f;
    const float* ptrs[2] = {scale.data(), scale.data() + x.size()};
    BufferStore store;
    store.add("x", x.data(), x.size()).add("y", y.data(), y.size(), {.decay = false});
    const SweepPlan p{.kind = kind, .seeds = seeds, .coeff = cd, .scale = 0.999, .direction_scale = ptrs};
    sweep(store, nullptr, p, 1);
    auto a = args_of(p);
    a.direction_scale = scale.data();
    const gpu::detail::Segment sx{ex.data(), ex.size(), 0, 0, 0, 0, 1u, 0}, sy{ey.data(), ey.size(), 0, 0, 0, 1, 0u,
                                                                             x.size()};
    const std::uint32_t round[4] = {0, 0, 0, 0};
    for (const auto* s : {&sx, &sy})
      for (std::uint64_t c = 0; c < (s->size + 63) / 64 * 16; ++c)
        kind == Direction::rademacher
            ? gpu::detail::sweep_counter<float, true>(a, *s, c, static_cast<float*>(s->data), nullptr, round)
            : gpu::detail::sweep_counter<float, false>(a, *s, c, static_cast<float*>(s->data), nullptr, round);
    CHECK(same_bits(x, ex));
    CHECK(same_bits(y, ey));
  }
}

TEST_CASE("device sweeps reject direction masks with a clear error instead of ignoring them", "[cuda][sweep]") {
  gpu::DeviceStore store;  // empty: the plan is checked before anything touches a device
  const std::uint64_t seeds[1] = {1};
  const double coeff[1] = {1e-3};
  const std::uint8_t active[1] = {1};
  const SweepPlan sp{.seeds = seeds, .coeff = coeff, .active = active};
  CHECK_THROWS_WITH(gpu::sweep_async(store, nullptr, sp), Catch::Contains("SweepPlan::active"));
  const FusedPlan fp{.seeds = seeds, .coeff = coeff, .active = active};
  CHECK_THROWS_WITH(gpu::detail::make_fused_args(store, fp), Catch::Contains("FusedPlan::active"));
}
