// Directions: Philox words match Random123, SIMD equals the scalar formula, moments, independence, determinism.
#include <catch2/catch.hpp>

#include <cstring>

#include <cmath>
#include <vector>

#include <zeroth/random/direction.hpp>
#include <zeroth/random/philox_simd.hpp>

using namespace zeroth;

TEST_CASE("philox() is Random123's Philox4x32-10 with (index, block, stream) counters", "[random]") {
  r123::Philox4x32 gen;
  for (std::uint64_t i : {0ull, 1ull, 77ull, (1ull << 32) + 5}) {
    auto w = random::philox(0x1234'5678'9ABC'DEF0ull, 3, i, Stream::direction);
    r123::Philox4x32::ctr_type c = {{std::uint32_t(i), std::uint32_t(i >> 32), 3u, 0u}};
    r123::Philox4x32::key_type k = {{0x9ABCDEF0u, 0x12345678u}};
    auto r = gen(c, k);
    for (int j = 0; j < 4; ++j) CHECK(w[j] == r[j]);
  }
}

TEST_CASE("philox16 gives philox()'s words for 16 counters at once, on every SIMD width", "[random]") {
  for (std::uint64_t first : {0ull, 16ull, 4096ull, (1ull << 32) - 16, (1ull << 32) + 32}) {
    for (Stream stream : {Stream::direction, Stream::rounding}) {
      std::uint32_t w[4][16], w_sse[4][16];
      random::philox16(0xFEDC'BA98'7654'3210ull, 9, first, stream, w);
      random::philox16<xsimd::sse2>(0xFEDC'BA98'7654'3210ull, 9, first, stream, w_sse);
      for (std::uint64_t j = 0; j < 16; ++j) {
        const auto r = random::philox(0xFEDC'BA98'7654'3210ull, 9, first + j, stream);
        for (int m = 0; m < 4; ++m) {
          CHECK(w[m][j] == r[m]);
          CHECK(w_sse[m][j] == r[m]);
        }
      }
    }
  }
}

TEST_CASE("the SIMD Gaussian group equals the scalar Box-Muller of Random123's words, bit for bit", "[random]") {
  alignas(64) float z[64];
  for (std::uint64_t g : {0ull, 1ull, 12345ull, (1ull << 30) + 3}) {
    random::gaussian_group(99, 7, g, z);
    for (int l = 0; l < 16; ++l) {
      auto w = random::philox(99, 7, g * 16 + l, Stream::direction);
      float a, b, c, d;
      random::detail::box_muller<float>(w[0], w[1], a, b);
      random::detail::box_muller<float>(w[2], w[3], c, d);
#if defined(__FMA__)
      CHECK(std::bit_cast<std::uint32_t>(z[l]) == std::bit_cast<std::uint32_t>(a));
      CHECK(std::bit_cast<std::uint32_t>(z[16 + l]) == std::bit_cast<std::uint32_t>(b));
      CHECK(std::bit_cast<std::uint32_t>(z[32 + l]) == std::bit_cast<std::uint32_t>(c));
      CHECK(std::bit_cast<std::uint32_t>(z[48 + l]) == std::bit_cast<std::uint32_t>(d));
#else
      CHECK(z[l] == Approx(a).epsilon(1e-6));
      CHECK(z[48 + l] == Approx(d).epsilon(1e-6));
#endif
    }
  }
}

TEST_CASE("gaussian_groups<K> gives the same bits as K calls of gaussian_group", "[random]") {
  for (std::uint64_t g : {0ull, 7ull, (1ull << 28) - 1}) {  // the last crosses 2^32 in the counter's low word
    alignas(64) float two[2 * 64], three[3 * 64], one[64];
    random::gaussian_groups<2>(5, 3, g, two);
    random::gaussian_groups<3>(5, 3, g, three);
    for (std::size_t k = 0; k < 3; ++k) {
      random::gaussian_group(5, 3, g + k, one);
      if (k < 2) CHECK(std::memcmp(two + 64 * k, one, sizeof one) == 0);
      CHECK(std::memcmp(three + 64 * k, one, sizeof one) == 0);
    }
  }
}

TEST_CASE("the polynomial log and sincos are accurate to float precision", "[random]") {
  double worst = 0;
  for (std::uint32_t w = 1; w < 0x7FFFFFFFu; w += 9973) {
    float u = (float(std::int32_t(w)) + 0.5f) * 4.656612873077393e-10f;
    worst = std::max(worst, std::abs(random::detail::log_unit(u) - std::log(double(u))) /
                                std::max(1e-3, std::abs(std::log(double(u)))));
  }
  CHECK(worst < 3e-7);
  // A pair (z0, z1) has radius sqrt(-2 ln u): check it against the formula for a spread of words.
  for (std::uint32_t w = 3; w < 0xFFFFFFF0u; w += 104729u * 97u) {
    float z0, z1;
    random::detail::box_muller<float>(w, w * 2654435761u, z0, z1);
    // u is rounded to float (24 bits) before the log: the radius is exact to that quantisation.
    const double u = double((float(std::int32_t(w >> 1)) + 0.5f) * 4.656612873077393e-10f);
    CHECK(std::hypot(double(z0), double(z1)) == Approx(std::sqrt(-2 * std::log(u))).epsilon(1e-5).margin(1e-5));
  }
}

TEMPLATE_TEST_CASE("direction moments match the distribution, within bounds shrinking like 1/sqrt(N)", "[random]",
                   float, double) {
  const std::size_t n = 1 << 20;
  for (Direction kind : {Direction::gaussian, Direction::rademacher}) {
    std::vector<float> z(n);
    for (std::size_t g = 0; g < n / 64; ++g) random::direction_group(kind, 2024, 1, g, z.data() + 64 * g);
    TestType m1 = 0, m2 = 0, m4 = 0;
    for (float v : z) {
      TestType x = v;
      m1 += x;
      m2 += x * x;
      m4 += x * x * x * x;
    }
    m1 /= n;
    m2 /= n;
    m4 /= n;
    const double se = 1.0 / std::sqrt(double(n));
    INFO(to_string(kind));
    CHECK(std::abs(double(m1)) < 5 * se);               // sd of z is 1
    if (kind == Direction::gaussian) {
      CHECK(std::abs(double(m2) - 1) < 5 * std::sqrt(2.0) * se);   // var(z^2) = 2
      CHECK(std::abs(double(m4) - 3) < 5 * std::sqrt(96.0) * se);  // var(z^4) = 105 - 9
    } else {
      CHECK(m2 == 1);
    }
  }
}

TEST_CASE("directions for different seeds and blocks are uncorrelated", "[random]") {
  const std::size_t n = 1 << 18;
  auto draw = [&](std::uint64_t seed, std::uint32_t block) {
    std::vector<float> z(n);
    for (std::size_t g = 0; g < n / 64; ++g) random::gaussian_group(seed, block, g, z.data() + 64 * g);
    return z;
  };
  auto a = draw(1, 0), b = draw(2, 0), c = draw(1, 1);
  auto corr = [&](const std::vector<float>& x, const std::vector<float>& y) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += double(x[i]) * y[i];
    return s / n;
  };
  const double bound = 5 / std::sqrt(double(n));
  CHECK(std::abs(corr(a, b)) < bound);
  CHECK(std::abs(corr(a, c)) < bound);  // equal-shaped blocks get different z (unlike ZO-Bench's code)
  // Neighbouring elements and the cos/sin halves of one Box-Muller pair are uncorrelated.
  double s = 0, t = 0;
  for (std::size_t g = 0; g < n / 64; ++g)
    for (int l = 0; l < 16; ++l) {
      s += double(a[64 * g + l]) * a[64 * g + 16 + l];
      t += double(a[64 * g + l]) * a[64 * g + l + 1];
    }
  CHECK(std::abs(s / (n / 4)) < 5 / std::sqrt(n / 4.0));
  CHECK(std::abs(t / (n / 4)) < 5 / std::sqrt(n / 4.0));
}

TEST_CASE("direction_element is a pure function of (seed, block, index)", "[random]") {
  alignas(64) float z[64];
  random::rademacher_group(5, 2, 3, z);
  for (int i = 0; i < 64; ++i) {
    CHECK(random::direction_element(Direction::rademacher, 5, 2, 3 * 64 + i) == z[i]);
    CHECK(std::abs(z[i]) == 1.0f);
  }
  CHECK(random::direction_element(Direction::gaussian, 5, 2, 1000) ==
        random::direction_element(Direction::gaussian, 5, 2, 1000));
  CHECK(direction_from_string("sphere") == Direction::sphere);
  CHECK_THROWS_WITH(direction_from_string("cauchy"), Catch::Contains("unknown direction 'cauchy'"));
}
