// Fused sweeps: the formula element by element, thread-count invariance, snapshot rollback, restore drift.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include <zeroth/sweeps/fused.hpp>
#include <zeroth/sweeps/sweep.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace zeroth;

namespace {
template <class T>
std::vector<T> filled(std::size_t n, std::uint64_t salt) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto w = random::philox(salt, 0, i, Stream::sampling);
    float f = (float(w[0] >> 8) / 16777216.0f - 0.5f) * 0.2f;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
      v[i] = T(f);
    else
      v[i] = from_float<T>(f);
  }
  return v;
}
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}
}  // namespace

TEST_CASE("a sweep computes x <- a x + sum_k c_k z_k with per-block decay coefficients", "[sweep]") {
  // Odd sizes: blocks end inside a group and span several chunks.
  auto w = filled<float>(BufferStore::kChunk + 1000, 1);
  auto b = filled<double>(77, 2);
  const auto w0 = w;
  const auto b0 = b;
  BufferStore store;
  store.add("w", w.data(), w.size());
  store.add("b", b.data(), b.size(), {.decay = false});
  const std::uint64_t seeds[2] = {10, 11};
  const double cd[2] = {0.5, -0.25}, cn[2] = {0.1, 0.2};
  sweep(store, nullptr, {.seeds = seeds, .coeff = cd, .coeff_nodecay = cn, .scale = 0.9, .scale_nodecay = 1.0});
  for (std::size_t i = 0; i < w.size(); i += 97) {
    float zz = float(cd[0]) * random::direction_element(Direction::gaussian, 10, 0, i);
    zz = std::fma(float(cd[1]), random::direction_element(Direction::gaussian, 11, 0, i), zz);
    REQUIRE(w[i] == std::fma(0.9f, w0[i], zz));
  }
  for (std::size_t i = 0; i < b.size(); ++i) {
    double zz = cn[0] * random::direction_element(Direction::gaussian, 10, 1, i);
    zz = std::fma(cn[1], double(random::direction_element(Direction::gaussian, 11, 1, i)), zz);
    REQUIRE(b[i] == Approx(b0[i] + zz).epsilon(1e-15));
  }
}

TEMPLATE_TEST_CASE("a one-direction sweep is x <- a x + c z (rounded for 16-bit types) for every element, paired "
                   "groups and tails alike", "[sweep]", float, bfloat16, float16) {
  // 5 groups and 17 elements in the first block (two pairs, a lone group, a tail), a chunk and 3 groups in the second.
  for (auto [kind, rounding] : {std::pair{Direction::gaussian, Rounding::nearest},
                                std::pair{Direction::rademacher, Rounding::nearest},
                                std::pair{Direction::gaussian, Rounding::stochastic}}) {
    auto w = filled<TestType>(5 * 64 + 17, 3), v = filled<TestType>(BufferStore::kChunk + 3 * 64, 4);
    const auto w0 = w, v0 = v;
    BufferStore store;
    store.add("w", w.data(), w.size());
    store.add("v", v.data(), v.size());
    const std::uint64_t seeds[1] = {21};
    const double c[1] = {-0.125};
    const auto st = sweep(store, nullptr,
                          {.kind = kind, .seeds = seeds, .coeff = c, .scale = 0.75, .rounding = rounding,
                           .rounding_seed = 5});
    std::size_t vanished = 0;
    auto check = [&](const std::vector<TestType>& x, const std::vector<TestType>& x0, std::uint32_t block) {
      for (std::size_t i = 0; i < x.size(); ++i) {
        if constexpr (std::is_same_v<TestType, float>) {
          REQUIRE(x[i] == std::fma(0.75f, x0[i], -0.125f * random::direction_element(kind, 21, block, i)));
        } else {
          const float e = std::fma(0.75f, to_float(x0[i]), -0.125f * random::direction_element(kind, 21, block, i));
          const std::uint32_t r = random::philox(5, block, i >> 2, Stream::rounding)[i & 3];
          REQUIRE(x[i].bits ==
                  (rounding == Rounding::nearest ? from_float<TestType>(e) : round_stochastic<TestType>(e, r)).bits);
          vanished += x[i].bits == x0[i].bits && e != to_float(x0[i]);
        }
      }
    };
    check(w, w0, 0);
    check(v, v0, 1);
    CHECK(st.vanished == vanished);
  }
}

TEMPLATE_TEST_CASE("a fused 16-bit sweep rounds f(x0, u) as store_elem does, nearest and stochastic", "[sweep]",
                   bfloat16, float16) {
  for (Rounding rounding : {Rounding::nearest, Rounding::stochastic}) {
    auto w = filled<TestType>(3 * 64 + 9, 6);  // whole groups and a tail
    const auto w0 = w;
    BufferStore store;
    store.add("w", w.data(), w.size());
    const std::uint64_t seeds[1] = {8};
    const double c[1] = {1.0 / 1024};  // a power of two: u is exact, so no contraction can change a bit below
    const auto st = fused_sweep(store, nullptr, {.seeds = seeds, .coeff = c, .rounding = rounding, .rounding_seed = 3},
                                [](std::uint32_t, bool, std::size_t, float x0, float u) { return x0 - u; });
    std::size_t vanished = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const float e = to_float(w0[i]) - random::direction_element(Direction::gaussian, 8, 0, i) / 1024;
      const std::uint32_t r = random::philox(3, 0, i >> 2, Stream::rounding)[i & 3];
      REQUIRE(w[i].bits ==
              (rounding == Rounding::nearest ? from_float<TestType>(e) : round_stochastic<TestType>(e, r)).bits);
      vanished += w[i].bits == w0[i].bits && e != to_float(w0[i]);
    }
    CHECK(st.vanished == vanished);
    if (rounding == Rounding::nearest) CHECK(vanished > 0);
  }
}

TEMPLATE_TEST_CASE("sweeps are bit-identical with 1 and 2 threads", "[sweep][threads]", float, double, bfloat16,
                   float16) {
  const std::size_t sizes[] = {3 * BufferStore::kChunk + 5, 1, 64, 1000};
  for (Direction kind : {Direction::gaussian, Direction::rademacher}) {
    std::vector<std::vector<TestType>> one, two;
    for (int threads : {1, 2}) {
      std::vector<std::vector<TestType>> data;
      BufferStore store;
      for (std::size_t i = 0; i < 4; ++i) {
        data.push_back(filled<TestType>(sizes[i], 40 + i));
      }
      for (std::size_t i = 0; i < 4; ++i) store.add("b" + std::to_string(i), data[i].data(), data[i].size());
      const std::uint64_t seeds[3] = {1, 2, 3};
      const double c[3] = {1e-3, -2e-3, 5e-4};
      sweep(store, nullptr, {.kind = kind, .seeds = seeds, .coeff = c, .scale = 0.999, .rounding = Rounding::stochastic,
                             .rounding_seed = 9},
            threads);
      (threads == 1 ? one : two) = data;
    }
    for (std::size_t i = 0; i < 4; ++i) CHECK(same_bits(one[i], two[i]));
  }
}

TEST_CASE("restoring by +eps, -2 eps, +eps leaves elements 1 ulp off; the snapshot rollback is exact", "[sweep]") {
  auto x = filled<float>(1 << 18, 5);
  const auto x0 = x;
  BufferStore store;
  store.add("x", x.data(), x.size());
  const std::uint64_t seed[1] = {77};
  for (double c : {1e-3, -2e-3, 1e-3}) {
    const double cc[1] = {c};
    sweep(store, nullptr, {.seeds = seed, .coeff = cc});
  }
  std::size_t off = 0;
  for (std::size_t i = 0; i < x.size(); ++i) off += x[i] != x0[i];
  const double frac = double(off) / x.size();
  INFO("fraction off after an inverse restore: " << frac);
  CHECK(frac > 0.2);  // the peers' restore drifts (about 47% of elements for MeZO's parameters)

  x = x0;
  Snapshot snap(store);
  const double c1[1] = {1e-3}, c2[1] = {-1e-3};
  sweep(store, &snap, {.seeds = seed, .coeff = c1, .save_snapshot = true});
  sweep(store, &snap, {.seeds = seed, .coeff = c2, .from_snapshot = true});
  // x now holds exactly x0 - eps z, computed from the snapshot: no accumulated drift.
  for (std::size_t i = 0; i < x.size(); i += 101)
    REQUIRE(x[i] == std::fma(1.0f, x0[i], float(-1e-3) * random::direction_element(Direction::gaussian, 77, 0, i)));
  restore_snapshot(store, snap);
  CHECK(same_bits(x, x0));
  CHECK(snap.bytes() == x.size() * sizeof(float));
}

TEST_CASE("16-bit stores count updates that vanish under nearest rounding", "[sweep]") {
  auto x = filled<bfloat16>(100000, 3);
  BufferStore store;
  store.add("x", x.data(), x.size());
  const std::uint64_t seed[1] = {4};
  const double tiny[1] = {1e-7};
  const auto x0 = x;
  std::size_t expect = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float v = to_float(x0[i]) + float(tiny[0]) * random::direction_element(Direction::gaussian, 4, 0, i);
    expect += to_bfloat16(v).bits == x0[i].bits && v != to_float(x0[i]);
  }
  auto st = sweep(store, nullptr, {.seeds = seed, .coeff = tiny});
  CHECK(st.vanished == expect);
  CHECK(st.vanished > 95000);  // almost all: 1e-7 is far below half an ulp of values of magnitude 0.001 to 0.1
  auto st2 = sweep(store, nullptr, {.seeds = seed, .coeff = tiny, .rounding = Rounding::stochastic, .rounding_seed = 1});
  CHECK(st2.vanished < st.vanished);
}

TEST_CASE("frozen blocks are never touched and sphere norms do not depend on threads", "[sweep]") {
  auto a = filled<float>(5000, 1), f = filled<float>(300, 2);
  const auto f0 = f;
  BufferStore store;
  store.add("a", a.data(), a.size()).add("frozen", f.data(), f.size(), {.trainable = false});
  CHECK(store.dimension() == 5000);
  const std::uint64_t seed[1] = {3};
  const double c[1] = {1.0};
  sweep(store, nullptr, {.seeds = seed, .coeff = c});
  CHECK(same_bits(f, f0));
  std::vector<double> partials(store.chunks().size());
  const double s1 = gaussian_sq_norm(store, 3, partials, 1), s2 = gaussian_sq_norm(store, 3, partials, 2);
  CHECK(s1 == s2);
  CHECK(s1 / 5000 == Approx(1.0).margin(5 * std::sqrt(2.0 / 5000)));
}

TEST_CASE("train_only keeps the blocks a fragment names, minus the frozen ones, and never revives a frozen block",
          "[sweep]") {
  std::vector<float> w(100), b(10), ln(20), e(1000), fb(5);
  BufferStore store;
  store.add("layer.0.dense.weight", w.data(), w.size())
      .add("layer.0.dense.bias", b.data(), b.size())
      .add("layer.0.LayerNorm.weight", ln.data(), ln.size())
      .add("embeddings.word_embeddings.weight", e.data(), e.size())
      .add("pooler.dense.bias", fb.data(), fb.size(), {.trainable = false});
  CHECK(store.train_only({"bias", "LayerNorm"}) == 30);  // BitFit; the pooler's bias was frozen and stays so
  CHECK_FALSE(store.block("layer.0.dense.weight").flags.trainable);
  CHECK_FALSE(store.block("pooler.dense.bias").flags.trainable);
  CHECK(store.chunks().size() == 2);
  CHECK(store.train_only({}, {"LayerNorm"}) == 10);  // an empty list keeps every trainable block
  CHECK(store.train_only({"word_embeddings"}) == 0);
}
