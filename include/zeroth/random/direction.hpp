#pragma once
// Random directions z(seed, block, index): Gaussian, Rademacher and uniform-on-sphere, generated 64 at a time.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <xsimd/xsimd.hpp>

#include "zeroth/random/philox.hpp"

#define ZEROTH_INTERNAL_INCLUDE
#include "zeroth/random/detail/gaussian_math.hpp"
#include "zeroth/random/detail/mulhilo.hpp"
#undef ZEROTH_INTERNAL_INCLUDE

namespace zeroth {

/// The distribution of a perturbation direction z.
enum class Direction {
  gaussian,    ///< z ~ N(0, I), as MeZO and ZO-Bench
  rademacher,  ///< z_i = +-1 with equal probability, as SPSA
  sphere       ///< z uniform on the sphere of radius sqrt(d)
};

inline std::string_view to_string(Direction d) {
  switch (d) {
    case Direction::gaussian: return "gaussian";
    case Direction::rademacher: return "rademacher";
    case Direction::sphere: return "sphere";
  }
  return "?";
}

inline Direction direction_from_string(std::string_view s) {
  if (s == "gaussian") return Direction::gaussian;
  if (s == "rademacher") return Direction::rademacher;
  if (s == "sphere") return Direction::sphere;
  throw std::invalid_argument("zeroth: unknown direction '" + std::string(s) + "' (gaussian, rademacher, sphere)");
}

namespace random {

/// Elements per generated group: the unit in which directions are produced (a chunk boundary is a multiple of it).
inline constexpr std::size_t kGroup = 64;

/// Fills out[0..64) with standard normals for elements [64 g, 64 g + 64) of (seed, block).
/// Element 64g + 16j + l comes from Philox counter 16g + l: words (0,1) give j = 0 (cos) and 1 (sin), words (2,3)
/// give j = 2 and 3. The layout is independent of the SIMD width.
template <class A = xsimd::default_arch>
inline void gaussian_group(std::uint64_t seed, std::uint32_t block, std::uint64_t g, float* out) noexcept {
#if !defined(__CUDA_ARCH__)  // host code: nvcc's device pass must not instantiate the Box-Muller with xsimd batches
  using U = xsimd::batch<std::uint32_t, A>;
  using F = xsimd::batch<float, A>;
  constexpr std::size_t N = U::size;
  static_assert(16 % N == 0, "zeroth: SIMD width must divide 16 lanes of 32 bits");
  alignas(64) std::uint32_t lane[N];
  for (std::size_t i = 0; i < N; ++i) lane[i] = static_cast<std::uint32_t>(i);
  const U lanes = U::load_aligned(lane);
  const std::uint64_t c0 = g * 16;
  for (std::size_t sub = 0; sub < 16 / N; ++sub) {
    U x0 = U(static_cast<std::uint32_t>(c0 + sub * N)) + lanes;
    U x1(static_cast<std::uint32_t>(c0 >> 32)), x2(block), x3(static_cast<std::uint32_t>(Stream::direction));
    std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
    for (int r = 0; r < kPhiloxRounds; ++r) {
      U hi0, lo0, hi1, lo1;
      detail::mulhilo(x0, kPhiloxM0, hi0, lo0, A{});
      detail::mulhilo(x2, kPhiloxM1, hi1, lo1, A{});
      x0 = hi1 ^ x1 ^ U(k0);
      x1 = lo1;
      x2 = hi0 ^ x3 ^ U(k1);
      x3 = lo0;
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    F a, b;
    detail::box_muller<F>(x0, x1, a, b);
    a.store_unaligned(out + sub * N);
    b.store_unaligned(out + 16 + sub * N);
    detail::box_muller<F>(x2, x3, a, b);
    a.store_unaligned(out + 32 + sub * N);
    b.store_unaligned(out + 48 + sub * N);
  }
#else
  (void)seed, (void)block, (void)g, (void)out;
#endif
}

/// Fills out[0..64) with +-1 for elements [64 g, 64 g + 64): element i is bit i % 128 of Philox counter i / 128.
inline void rademacher_group(std::uint64_t seed, std::uint32_t block, std::uint64_t g, float* out) noexcept {
  auto w = philox(seed, block, g >> 1, Stream::direction);
  std::uint64_t bits = (g & 1) ? (std::uint64_t(w[3]) << 32 | w[2]) : (std::uint64_t(w[1]) << 32 | w[0]);
  for (std::size_t i = 0; i < kGroup; ++i)
    out[i] = std::bit_cast<float>(0x3F800000u | static_cast<std::uint32_t>((bits >> i) & 1u) << 31);
}

/// Fills out[0..64) with the unscaled direction of `kind` (a sphere direction is Gaussian before normalisation).
template <class A = xsimd::default_arch>
inline void direction_group(Direction kind, std::uint64_t seed, std::uint32_t block, std::uint64_t g,
                            float* out) noexcept {
  if (kind == Direction::rademacher)
    rademacher_group(seed, block, g, out);
  else
    gaussian_group<A>(seed, block, g, out);
}

/// One unscaled direction element: a pure function of (kind, seed, block, index). For tests and small uses.
inline float direction_element(Direction kind, std::uint64_t seed, std::uint32_t block, std::uint64_t index) {
  alignas(64) float buf[kGroup];
  direction_group(kind, seed, block, index / kGroup, buf);
  return buf[index % kGroup];
}

}  // namespace random
}  // namespace zeroth
