// bfloat16 / float16 conversions and stochastic rounding.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include <zeroth/random/philox.hpp>
#include <zeroth/stores/dtype.hpp>

using namespace zeroth;

TEST_CASE("float16 conversion round-trips every finite half and rounds to nearest even", "[dtype]") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    float16 x{static_cast<std::uint16_t>(h)};
    float f = to_float(x);
    if (std::isnan(f)) continue;
    REQUIRE(to_float16(f).bits == h);
  }
  CHECK(to_float(to_float16(1.0f + std::ldexp(1.0f, -11))) == 1.0f);  // tie: to even
  CHECK(to_float(to_float16(1.0f + 3 * std::ldexp(1.0f, -11))) == 1.0f + std::ldexp(1.0f, -9));
  CHECK(std::isinf(to_float(to_float16(70000.0f))));
  CHECK(to_float(to_float16(std::ldexp(1.0f, -24))) == std::ldexp(1.0f, -24));  // smallest subnormal
}

TEST_CASE("bfloat16 conversion round-trips and rounds to nearest even", "[dtype]") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    float f = to_float(bfloat16{static_cast<std::uint16_t>(h)});
    if (std::isnan(f)) continue;
    REQUIRE(to_bfloat16(f).bits == h);
  }
  CHECK(to_float(to_bfloat16(1.0f + std::ldexp(1.0f, -8))) == 1.0f);
  CHECK(std::isnan(to_float(to_bfloat16(std::nanf("")))));
}

TEMPLATE_TEST_CASE("stochastic rounding is unbiased, where nearest rounding loses small updates", "[dtype]", bfloat16,
                   float16) {
  const float x0 = 0.3f;
  const float delta = 1e-5f;  // well below half an ulp of 0.3 in both formats
  const int n = 200000;
  double sum = 0;
  int changed = 0;
  for (int i = 0; i < n; ++i) {
    auto w = random::philox(11, 0, i, Stream::rounding);
    TestType h = round_stochastic<TestType>(x0 + delta, w[0]);
    sum += to_float(h);
    changed += to_float(h) != to_float(from_float<TestType>(x0));
  }
  const float lo = to_float(from_float<TestType>(x0));
  CHECK(to_float(from_float<TestType>(x0 + delta)) == lo);  // nearest: the update vanishes
  CHECK(changed > 0);
  // Each draw is lo or lo + ulp: the mean's standard error is at most ulp / (2 sqrt(n)).
  TestType up = from_float<TestType>(x0);
  up.bits++;
  const double ulp = to_float(up) - lo;
  CHECK(std::abs(sum / n - double(x0 + delta)) < 5 * ulp / (2 * std::sqrt(double(n))));
}
