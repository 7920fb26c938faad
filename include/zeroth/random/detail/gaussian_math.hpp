#pragma once
// Box-Muller from two 32-bit words with fixed polynomial log and sincos (Cephes coefficients), written once for
// scalars and xsimd batches: with a fused multiply-add the result is the same bits on every architecture. The scalar
// path also compiles for CUDA devices (zeroth/cuda), where every operation is an IEEE round-to-nearest one or an fma.
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "zeroth/core/host_device.hpp"
#include "zeroth/core/simd_fma.hpp"

#if !defined(ZEROTH_INTERNAL_INCLUDE)
#error "zeroth/random/detail/gaussian_math.hpp is internal: include <zeroth/random/direction.hpp> instead"
#endif

namespace zeroth::random::detail {

template <class F>
struct MathOps;  // bit casts and selects for float or batch<float, A>

// On a device: the intrinsics that round as the host's IEEE operations (__fsqrt_rn is correctly rounded whatever
// -prec-sqrt says). No expression below multiplies and then adds, so nvcc's contraction has nothing to fuse.
template <>
struct MathOps<float> {
  using U = std::uint32_t;
  using I = std::int32_t;
#if defined(__CUDA_ARCH__)
  static __device__ float fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
  static __device__ float from_bits(U u) { return __uint_as_float(u); }
  static __device__ U to_bits(float f) { return __float_as_uint(f); }
  static __device__ float to_float(I i) { return __int2float_rn(i); }
  static __device__ I as_int(U u) { return static_cast<I>(u); }
  static __device__ float sqrt(float x) { return __fsqrt_rn(x); }
  static __device__ float select_gt(float x, float t, float a, float b) { return x > t ? a : b; }
#else
  static float fma(float a, float b, float c) { return std::fma(a, b, c); }
  static float from_bits(U u) { return std::bit_cast<float>(u); }
  static U to_bits(float f) { return std::bit_cast<U>(f); }
  static float to_float(I i) { return static_cast<float>(i); }
  static I as_int(U u) { return static_cast<I>(u); }
  static float sqrt(float x) { return std::sqrt(x); }
  static float select_gt(float x, float t, float a, float b) { return x > t ? a : b; }
#endif
};

template <class A>
struct MathOps<xsimd::batch<float, A>> {
  using F = xsimd::batch<float, A>;
  using U = xsimd::batch<std::uint32_t, A>;
  using I = xsimd::batch<std::int32_t, A>;
  // Always fused (see zeroth/core/simd_fma.hpp): an unfused AVX-512 fma changed about 1 Gaussian element in 800.
  static F fma(const F& a, const F& b, const F& c) { return zeroth::detail::fused_fma(a, b, c); }
  static F from_bits(const U& u) { return xsimd::bitwise_cast<F>(u); }
  static U to_bits(const F& f) { return xsimd::bitwise_cast<U>(f); }
  static F to_float(const I& i) { return xsimd::to_float(i); }
  static I as_int(const U& u) { return xsimd::bitwise_cast<I>(u); }
  static F sqrt(const F& x) { return xsimd::sqrt(x); }
  static F select_gt(const F& x, float t, const F& a, const F& b) { return xsimd::select(x > F(t), a, b); }
};

/// Natural log of u in (0, 1], Cephes logf polynomial (relative error about 1e-7).
ZEROTH_HD_TEMPLATE
template <class F>
ZEROTH_HOST_DEVICE ZEROTH_ALWAYS_INLINE F log_unit(const F& u) {
  using M = MathOps<F>;
  using U = typename M::U;
  U bits = M::to_bits(u);
  F e = M::to_float(M::as_int(bits >> 23)) - F(127.0f);
  F m = M::from_bits((bits & U(0x007FFFFFu)) | U(0x3F800000u));  // [1, 2)
  F big = M::select_gt(m, 1.41421356237f, F(1.0f), F(0.0f));
  e = e + big;
  m = M::select_gt(m, 1.41421356237f, m * F(0.5f), m);  // [sqrt(1/2), sqrt(2))
  F x = m - F(1.0f);
  F z = x * x;
  F p = F(7.0376836292e-2f);
  p = M::fma(p, x, F(-1.1514610310e-1f));
  p = M::fma(p, x, F(1.1676998740e-1f));
  p = M::fma(p, x, F(-1.2420140846e-1f));
  p = M::fma(p, x, F(1.4249322787e-1f));
  p = M::fma(p, x, F(-1.6668057665e-1f));
  p = M::fma(p, x, F(2.0000714765e-1f));
  p = M::fma(p, x, F(-2.4999993993e-1f));
  p = M::fma(p, x, F(3.3333331174e-1f));
  F y = x * z * p;
  y = M::fma(e, F(-2.12194440e-4f), y);
  y = M::fma(z, F(-0.5f), y);
  return M::fma(e, F(0.693359375f), x + y);
}

/// Two standard normals from words w0 (radius) and w1 (angle, two sign bits).
ZEROTH_HD_TEMPLATE
template <class F>
ZEROTH_HOST_DEVICE ZEROTH_ALWAYS_INLINE void box_muller(const typename MathOps<F>::U& w0,
                                                        const typename MathOps<F>::U& w1, F& z0, F& z1) {
  using M = MathOps<F>;
  // u in (0, 1]: 31 random bits, never zero, so the radius is finite (at most 6.66).
  F u = (M::to_float(M::as_int(w0 >> 1)) + F(0.5f)) * F(4.656612873077393e-10f);
  F r = M::sqrt(F(-2.0f) * log_unit(u));
  // Angle: 24 bits give phi in [0, pi/2); the two low bits reflect it into all four quadrants.
  F x = M::fma(M::to_float(M::as_int(w1 >> 8)), F(9.362604671e-8f), F(-0.785398163397f));  // pi/2 * 2^-24
  F x2 = x * x;
  F s = M::fma(M::fma(M::fma(F(-1.9515295891e-4f), x2, F(8.3321608736e-3f)), x2, F(-1.6666654611e-1f)) * x2, x, x);
  F pc = M::fma(M::fma(F(2.443315711809948e-5f), x2, F(-1.388731625493765e-3f)), x2, F(4.166664568298827e-2f));
  F c = F(1.0f) + M::fma(pc, x2 * x2, F(-0.5f) * x2);
  F rs = r * F(0.70710678118654752f);
  F a = (c - s) * rs;  // r cos(x + pi/4)
  F b = (c + s) * rs;  // r sin(x + pi/4)
  z0 = M::from_bits(M::to_bits(a) ^ (w1 << 31));
  z1 = M::from_bits(M::to_bits(b) ^ ((w1 >> 1) << 31));
}

}  // namespace zeroth::random::detail
