#pragma once
// Random directions z(seed, block, index): Gaussian, Rademacher and uniform-on-sphere, generated 64 at a time.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <xsimd/xsimd.hpp>

#include "zeroth/core/host_device.hpp"
#include "zeroth/random/philox.hpp"
#include "zeroth/random/philox_simd.hpp"

#define ZEROTH_INTERNAL_INCLUDE
#include "zeroth/random/detail/gaussian_math.hpp"
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

/// Fills out[0..64 K) with standard normals for elements [64 g, 64 g + 64 K) of (seed, block).
/// Element 64g + 16j + l comes from Philox counter 16g + l: words (0,1) give j = 0 (cos) and 1 (sin), words (2,3)
/// give j = 2 and 3. The layout is independent of the SIMD width and of K. The K groups' Philox rounds are
/// interleaved: one chain of rounds is latency-bound, and K = 2 generates about 1.3x faster than K = 1 on AVX-512
/// (K = 3 and 4 gain nothing more).
template <std::size_t K, class A = xsimd::default_arch>
ZEROTH_ALWAYS_INLINE void gaussian_groups(std::uint64_t seed, std::uint32_t block, std::uint64_t g,
                                          float* out) noexcept {
#if !defined(__CUDA_ARCH__)  // host code: nvcc's device pass must not instantiate the Box-Muller with xsimd batches
  using U = xsimd::batch<std::uint32_t, A>;
  using F = xsimd::batch<float, A>;
  constexpr std::size_t N = U::size, S = 16 / N, V = K * S;  // S vectors per group, V in all
  static_assert(16 % N == 0, "zeroth: SIMD width must divide 16 lanes of 32 bits");
  U x0[V], x1[V], x2[V], x3[V];  // vector v: counters 16 g + v N + lane
  philox_batches<V, A>(seed, block, g * 16, Stream::direction, x0, x1, x2, x3);
  for (std::size_t v = 0; v < V; ++v) {
    float* o = out + (v / S) * kGroup + (v % S) * N;
    F a, b;
    detail::box_muller<F>(x0[v], x1[v], a, b);
    a.store_unaligned(o);
    b.store_unaligned(o + 16);
    detail::box_muller<F>(x2[v], x3[v], a, b);
    a.store_unaligned(o + 32);
    b.store_unaligned(o + 48);
  }
#else
  (void)seed, (void)block, (void)g, (void)out;
#endif
}

/// Fills out[0..64) with standard normals for elements [64 g, 64 g + 64) of (seed, block).
template <class A = xsimd::default_arch>
inline void gaussian_group(std::uint64_t seed, std::uint32_t block, std::uint64_t g, float* out) noexcept {
  gaussian_groups<1, A>(seed, block, g, out);
}

/// Fills out[0..64) with +-1 for elements [64 g, 64 g + 64): element i is bit i % 128 of Philox counter i / 128.
inline void rademacher_group(std::uint64_t seed, std::uint32_t block, std::uint64_t g, float* out) noexcept {
  auto w = philox(seed, block, g >> 1, Stream::direction);
  std::uint64_t bits = (g & 1) ? (std::uint64_t(w[3]) << 32 | w[2]) : (std::uint64_t(w[1]) << 32 | w[0]);
  for (std::size_t i = 0; i < kGroup; ++i)
    out[i] = std::bit_cast<float>(0x3F800000u | static_cast<std::uint32_t>((bits >> i) & 1u) << 31);
}

/// Fills out[0..64 K) with the unscaled direction of `kind` for groups g .. g+K-1 (a sphere direction is Gaussian
/// before normalisation).
template <std::size_t K = 1, class A = xsimd::default_arch>
inline void direction_groups(Direction kind, std::uint64_t seed, std::uint32_t block, std::uint64_t g,
                             float* out) noexcept {
  if (kind == Direction::rademacher)
    for (std::size_t k = 0; k < K; ++k) rademacher_group(seed, block, g + k, out + k * kGroup);
  else
    gaussian_groups<K, A>(seed, block, g, out);
}

/// Fills out[0..64) with the unscaled direction of `kind` for group g.
template <class A = xsimd::default_arch>
inline void direction_group(Direction kind, std::uint64_t seed, std::uint32_t block, std::uint64_t g,
                            float* out) noexcept {
  direction_groups<1, A>(kind, seed, block, g, out);
}

/// One unscaled direction element: a pure function of (kind, seed, block, index). For tests and small uses.
inline float direction_element(Direction kind, std::uint64_t seed, std::uint32_t block, std::uint64_t index) {
  alignas(64) float buf[kGroup];
  direction_group(kind, seed, block, index / kGroup, buf);
  return buf[index % kGroup];
}

}  // namespace random
}  // namespace zeroth
