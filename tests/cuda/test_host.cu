// CUDA tests that need no GPU: error messages, store validation, and the device element code compiled for the host
// checked bit for bit against the CPU path (directions, 16-bit rounding, whole sweeps).
#include "common.cuh"

#include <cmath>
#include <limits>
#include <string>

#include <zeroth/cuda/device_store.cuh>
#include <zeroth/cuda/detail/element.cuh>
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
  const gpu::detail::Segment s{x.data(), x.size(), 0, 0, 0, block, decay ? 1u : 0u};
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
