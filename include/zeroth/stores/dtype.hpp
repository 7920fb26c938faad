#pragma once
// Element types of a parameter block, and float32 <-> bfloat16/float16 conversions (nearest-even or stochastic).
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "zeroth/core/exact_math.hpp"
#include "zeroth/core/host_device.hpp"

namespace zeroth {

/// Storage type of a block's elements. Arithmetic is float32 for f32/bf16/f16 and float64 for f64.
enum class DType : std::uint8_t { f32, f64, bf16, f16 };

inline constexpr std::size_t size_of(DType t) noexcept {
  return t == DType::f64 ? 8 : t == DType::f32 ? 4 : 2;
}

inline constexpr std::string_view to_string(DType t) noexcept {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
  }
  return "?";
}

/// How a float32 result is stored in a 16-bit block.
enum class Rounding : std::uint8_t {
  nearest,    ///< round to nearest even: updates below half an ulp vanish
  stochastic  ///< round up with probability equal to the remainder, from the counter-based stream: unbiased
};

/// A bfloat16 value (the top half of a float32).
struct bfloat16 {
  std::uint16_t bits = 0;
};
/// An IEEE 754 binary16 value.
struct float16 {
  std::uint16_t bits = 0;
};

// The conversions and stochastic rounding below are host/device code: the CUDA kernels (zeroth/cuda) store with them.

ZEROTH_HOST_DEVICE inline float to_float(bfloat16 h) noexcept { return detail::float_of(std::uint32_t(h.bits) << 16); }

// Branch-free (both results computed, one selected), so that loops of it vectorise.
ZEROTH_HOST_DEVICE inline bfloat16 to_bfloat16(float f) noexcept {
  const std::uint32_t x = detail::bits_of(f);
  const std::uint32_t nearest = (x + 0x7FFFu + ((x >> 16) & 1u)) >> 16, quiet_nan = (x >> 16) | 0x40u;
  return {static_cast<std::uint16_t>((x & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : nearest)};
}

ZEROTH_HOST_DEVICE inline float to_float(float16 h) noexcept {
  const std::uint32_t shifted_exp = 0x7C00u << 13;
  std::uint32_t o = (std::uint32_t(h.bits) & 0x7FFFu) << 13;
  const std::uint32_t exp = shifted_exp & o;
  o += (127u - 15u) << 23;
  if (exp == shifted_exp) {
    o += (128u - 16u) << 23;  // Inf / NaN
  } else if (exp == 0) {      // zero / subnormal: renormalise through float arithmetic
    o += 1u << 23;
    o = detail::bits_of(detail::float_of(o) - detail::float_of(113u << 23));
  }
  return detail::float_of(o | (std::uint32_t(h.bits) & 0x8000u) << 16);
}

ZEROTH_HOST_DEVICE inline float16 to_float16(float f) noexcept {
  std::uint32_t u = detail::bits_of(f);
  const std::uint32_t sign = u & 0x80000000u;
  u ^= sign;
  std::uint32_t o;
  if (u >= (127u + 16u) << 23) {  // overflow, Inf or NaN
    o = u > 0x7F800000u ? 0x7E00u : 0x7C00u;
  } else if (u < 113u << 23) {  // subnormal or zero in binary16: let the float adder round
    const float magic = detail::float_of(((127u - 15u) + (23u - 10u) + 1u) << 23);
    o = detail::bits_of(detail::float_of(u) + magic) - detail::bits_of(magic);
  } else {
    const std::uint32_t odd = (u >> 13) & 1u;
    u += ((15u - 127u) << 23) + 0xFFFu + odd;
    o = u >> 13;
  }
  return {static_cast<std::uint16_t>(o | sign >> 16)};
}

template <class H>
ZEROTH_HOST_DEVICE inline H from_float(float f) noexcept {
  if constexpr (std::is_same_v<H, bfloat16>)
    return to_bfloat16(f);
  else
    return to_float16(f);
}

/// Stochastic rounding of f to H: rounds away from zero with probability |f - lo| / ulp, using 24 bits of `r`.
/// Branch-free (every candidate computed, one selected): its choices are coin flips a branch predictor cannot learn,
/// and loops of it vectorise.
template <class H>
ZEROTH_HOST_DEVICE inline H round_stochastic(float f, std::uint32_t r) noexcept {
  const H n = from_float<H>(f);
  const float v = to_float(n);
  const bool exact_or_special = (v == f) | ((detail::bits_of(v) & 0x7FFFFFFFu) >= 0x7F800000u);  // or NaN, Inf
  auto abs = [](float x) { return detail::float_of(detail::bits_of(x) & 0x7FFFFFFFu); };
  const float af = abs(f), av = abs(v);
  // lo: the representable value toward zero from f (n, or one step toward zero in sign-magnitude); hi: one away.
  const auto lo = static_cast<std::uint16_t>(n.bits - (av > af ? 1u : 0u));
  const auto hi = static_cast<std::uint16_t>(lo + 1u);
  const float alo = abs(to_float(H{lo})), ahi = abs(to_float(H{hi}));
  const float p = exact::div(af - alo, ahi - alo);                        // in [0, 1)
  const float u = exact::mul(static_cast<float>(r >> 8), 1.0f / 16777216.0f);  // [0, 1)
  // A mask, not `exact_or_special ? n : ...`: g++ would sink the division into that branch and, as a division may
  // trap, keep the branch.
  const auto keep = static_cast<std::uint16_t>(0u - static_cast<unsigned>(exact_or_special));
  return {static_cast<std::uint16_t>((n.bits & keep) | ((u < p ? hi : lo) & ~keep))};
}

template <class T>
inline constexpr DType dtype_of() noexcept {
  if constexpr (std::is_same_v<T, float>) return DType::f32;
  else if constexpr (std::is_same_v<T, double>) return DType::f64;
  else if constexpr (std::is_same_v<T, bfloat16>) return DType::bf16;
  else if constexpr (std::is_same_v<T, float16>) return DType::f16;
  else static_assert(sizeof(T) == 0, "zeroth: element type must be float, double, bfloat16 or float16");
}

/// Index of the first element of `p[0..n)` that is NaN or infinite (as float), or `n` when every one is finite: a
/// loader's check that a model holds numbers.
template <class T>
inline std::size_t first_non_finite(const T* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    float v;
    if constexpr (std::is_same_v<T, float>)
      v = p[i];
    else
      v = to_float(p[i]);
    if (v - v != 0.0f) return i;  // NaN or infinite
  }
  return n;
}

}  // namespace zeroth
