// Sweep throughput: one fused sweep per direction kind, a whole ZO-SGD step (3 sweeps), a plain copy of the same
// bytes (the bandwidth limit) and Gaussian generation alone (the compute limit). Parameters are split into 8 blocks
// like the peer's. Run via bench/sweeps.py.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include <zeroth/zeroth.hpp>

namespace {

struct Params {
  std::vector<std::vector<float>> blocks;
  zeroth::BufferStore store;
  explicit Params(std::size_t n) {
    for (int b = 0; b < 8; ++b) {
      blocks.emplace_back(n / 8, 0.01f * float(b));
      store.add("b" + std::to_string(b), blocks.back().data(), blocks.back().size());
    }
  }
};

void BM_Sweep(benchmark::State& state) {
  const auto kind = static_cast<zeroth::Direction>(state.range(0));
  const auto n = static_cast<std::size_t>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  Params p(n);
  const std::uint64_t seed[1] = {42};
  const double c[1] = {1e-3};
  std::uint64_t s = 0;
  for (auto _ : state) {
    const std::uint64_t seeds[1] = {seed[0] + s++};
    zeroth::sweep(p.store, nullptr, {.kind = kind, .seeds = seeds, .coeff = c}, threads);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.SetLabel(std::string(zeroth::to_string(kind)));
}

// The same Gaussian sweep over bfloat16 blocks (updated in float32, rounded back to nearest, or stochastically when
// the first argument is 1).
void BM_SweepBf16(benchmark::State& state) {
  const auto rounding = state.range(0) == 1 ? zeroth::Rounding::stochastic : zeroth::Rounding::nearest;
  const auto n = static_cast<std::size_t>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  std::vector<std::vector<zeroth::bfloat16>> blocks;
  zeroth::BufferStore store;
  for (int b = 0; b < 8; ++b) {
    blocks.emplace_back(n / 8, zeroth::to_bfloat16(0.01f * float(b)));
    store.add("b" + std::to_string(b), blocks.back().data(), blocks.back().size());
  }
  const double c[1] = {1e-3};
  std::uint64_t s = 0;
  for (auto _ : state) {
    const std::uint64_t seeds[1] = {42 + s++};
    zeroth::sweep(store, nullptr,
                  {.kind = zeroth::Direction::gaussian, .seeds = seeds, .coeff = c, .rounding = rounding,
                   .rounding_seed = s},
                  threads);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.SetLabel(rounding == zeroth::Rounding::nearest ? "gaussian-bf16" : "gaussian-bf16-stochastic");
}

void BM_Copy(benchmark::State& state) {  // read n floats and write n floats, like one sweep
  const auto n = static_cast<std::size_t>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  std::vector<float> a(n, 1.0f), b(n, 2.0f);
  const long chunks = static_cast<long>((n + (1 << 15) - 1) >> 15);
  for (auto _ : state) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (long c = 0; c < chunks; ++c) {
      const std::size_t lo = std::size_t(c) << 15, hi = std::min(n, lo + (std::size_t(1) << 15));
      std::memcpy(b.data() + lo, a.data() + lo, (hi - lo) * sizeof(float));
    }
    benchmark::ClobberMemory();
    std::swap(a, b);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.SetLabel("copy");
}

// Gaussian generation alone (Philox4x32-10 and Box-Muller, two groups at a time, as a sweep does), with no parameter
// traffic: the compute bound of a Gaussian sweep on one core.
void BM_Generate(benchmark::State& state) {
  namespace zr = zeroth::random;
  alignas(64) float z[2 * zr::kGroup];
  std::uint64_t g = 0;
  for (auto _ : state)
    for (int i = 0; i < 1024; ++i, g += 2) {
      zr::gaussian_groups<2>(42, 0, g, z);
      benchmark::DoNotOptimize(z);
    }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 1024 * 2 * zr::kGroup));
  state.SetLabel("generate");
}

// A whole ZO-SGD step on a constant objective: the sweeps only (3 per step; the snapshot variant for comparison).
void BM_Step(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const auto rollback = static_cast<zeroth::Rollback>(state.range(0));
  Params p(n);
  zeroth::ZOSGD opt({.learning_rate = 1e-6, .max_steps = ~0ull >> 1, .rollback = rollback, .threads = threads});
  auto run = opt.run(p.store);
  double loss = 1.0;
  for (auto _ : state) {
    std::optional<zeroth::StepInfo> info;
    while (!info) {
      run.ask();
      info = run.tell(loss += 1e-9);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.SetLabel(rollback == zeroth::Rollback::snapshot ? "step-snapshot" : "step");
}

void sizes(benchmark::internal::Benchmark* b, std::initializer_list<long> kinds) {
  for (long kind : kinds)
    for (long n : {1'000'000L, 10'000'000L, 100'000'000L})
      for (long t : {1L, 2L}) b->Args({kind, n, t});
  b->ArgNames({"kind", "n", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
}

}  // namespace

BENCHMARK(BM_Sweep)->Apply([](auto* b) { sizes(b, {0, 1}); });  // a sphere sweep is a Gaussian one
BENCHMARK(BM_SweepBf16)->Apply([](auto* b) { sizes(b, {0, 1}); });  // nearest, stochastic
BENCHMARK(BM_Copy)->Apply([](auto* b) { sizes(b, {0}); });
BENCHMARK(BM_Generate)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK(BM_Step)->Apply([](auto* b) { sizes(b, {0, 1}); });
BENCHMARK_MAIN();
