#pragma once
// The element-level arithmetic of the device sweeps, written once for host and device: Philox words, direction
// elements in the CPU's layout, 16-bit conversions and stochastic rounding, and the body one thread runs. Compiled for
// the host, the very same code is checked bit for bit against the CPU path by tests that need no GPU.
#include <cstdint>
#include <type_traits>

#include <Random123/philox.h>

#include "zeroth/core/host_device.hpp"
#include "zeroth/random/philox.hpp"
#include "zeroth/stores/dtype.hpp"
#include "zeroth/sweeps/sweep.hpp"

#define ZEROTH_INTERNAL_INCLUDE
#include "zeroth/random/detail/gaussian_math.hpp"
#undef ZEROTH_INTERNAL_INCLUDE

#if !defined(__CUDA_ARCH__)
#include <bit>
#include <cmath>
#endif

namespace zeroth::gpu::detail {

/// Elements one thread updates (one Philox counter's worth of a Gaussian direction), threads per CUDA block, and the
/// elements a CUDA block covers (16 direction groups of 64).
inline constexpr unsigned kPerThread = 4, kThreads = 256, kTile = kPerThread * kThreads;

ZEROTH_HOST_DEVICE inline std::uint32_t bits_of(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  return std::bit_cast<std::uint32_t>(f);
#endif
}

ZEROTH_HOST_DEVICE inline float float_of(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  return std::bit_cast<float>(u);
#endif
}

/// a * b + c rounded once (the CPU path's std::fma / xsimd::fma).
ZEROTH_HOST_DEVICE inline float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

/// a * b, never contracted into a neighbouring add.
ZEROTH_HOST_DEVICE inline float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

/// a / b correctly rounded whatever -prec-div or --use_fast_math say.
ZEROTH_HOST_DEVICE inline float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

struct Words {
  std::uint32_t w[4];
};

/// The four words of Philox counter `index` of (seed, block, stream): zeroth::random::philox, callable on a device.
ZEROTH_HOST_DEVICE inline Words philox_words(std::uint64_t seed, std::uint32_t block, std::uint64_t index,
                                             std::uint32_t stream) {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type ctr = {
      {static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32), block, stream}};
  r123::Philox4x32::key_type key = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  r123::Philox4x32::ctr_type r = gen(ctr, key);
  return {{r[0], r[1], r[2], r[3]}};
}

/// The four direction elements of counter c of (seed, block): z[j] is element 64 (c / 16) + 16 j + c % 16, exactly
/// as random::gaussian_group (Gaussian and sphere) and random::rademacher_group lay them out.
template <bool Rademacher>
ZEROTH_HOST_DEVICE inline void direction4(std::uint64_t seed, std::uint32_t block, std::uint64_t c, float z[4]) {
  constexpr std::uint32_t stream = static_cast<std::uint32_t>(Stream::direction);
  if constexpr (Rademacher) {
    // Element i is bit i % 128 of counter i / 128: group g uses words (0, 1) or (2, 3) of counter g / 2.
    const std::uint64_t g = c >> 4;
    const unsigned l = static_cast<unsigned>(c & 15u);
    const Words w = philox_words(seed, block, g >> 1, stream);
    const std::uint32_t lo = (g & 1) ? w.w[2] : w.w[0], hi = (g & 1) ? w.w[3] : w.w[1];
    const std::uint32_t bit[4] = {lo >> l, lo >> (16 + l), hi >> l, hi >> (16 + l)};
    for (int j = 0; j < 4; ++j) z[j] = float_of(0x3F800000u | (bit[j] & 1u) << 31);
  } else {
    const Words w = philox_words(seed, block, c, stream);
    random::detail::box_muller<float>(w.w[0], w.w[1], z[0], z[1]);
    random::detail::box_muller<float>(w.w[2], w.w[3], z[2], z[3]);
  }
}

// 16-bit conversions: the algorithms of zeroth/stores/dtype.hpp, bit for bit (NaN payloads included), on a device.

ZEROTH_HOST_DEVICE inline float widen(float f) { return f; }
ZEROTH_HOST_DEVICE inline float widen(bfloat16 h) { return float_of(std::uint32_t(h.bits) << 16); }

ZEROTH_HOST_DEVICE inline float widen(float16 h) {
  const std::uint32_t shifted_exp = 0x7C00u << 13;
  std::uint32_t o = (std::uint32_t(h.bits) & 0x7FFFu) << 13;
  const std::uint32_t exp = shifted_exp & o;
  o += (127u - 15u) << 23;
  if (exp == shifted_exp) {
    o += (128u - 16u) << 23;
  } else if (exp == 0) {
    o += 1u << 23;
    o = bits_of(float_of(o) - float_of(113u << 23));
  }
  return float_of(o | (std::uint32_t(h.bits) & 0x8000u) << 16);
}

template <class H>
ZEROTH_HOST_DEVICE inline H narrow(float f) {
  std::uint32_t u = bits_of(f);
  if constexpr (std::is_same_v<H, bfloat16>) {
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return {static_cast<std::uint16_t>((u >> 16) | 0x40u)};
    u += 0x7FFFu + ((u >> 16) & 1u);
    return {static_cast<std::uint16_t>(u >> 16)};
  } else {
    const std::uint32_t sign = u & 0x80000000u;
    u ^= sign;
    std::uint32_t o;
    if (u >= (127u + 16u) << 23) {
      o = u > 0x7F800000u ? 0x7E00u : 0x7C00u;
    } else if (u < 113u << 23) {
      const float magic = float_of(((127u - 15u) + (23u - 10u) + 1u) << 23);
      o = bits_of(float_of(u) + magic) - bits_of(magic);
    } else {
      const std::uint32_t odd = (u >> 13) & 1u;
      u += ((15u - 127u) << 23) + 0xFFFu + odd;
      o = u >> 13;
    }
    return {static_cast<std::uint16_t>(o | sign >> 16)};
  }
}

/// zeroth::round_stochastic: away from zero with probability |f - lo| / ulp, from 24 bits of r.
template <class H>
ZEROTH_HOST_DEVICE inline H round_stochastic(float f, std::uint32_t r) {
  H n = narrow<H>(f);
  const float v = widen(n);
  if (!(v == v) || v == f || (bits_of(v) & 0x7FFFFFFFu) >= 0x7F800000u) return n;
  const float af = f < 0 ? -f : f, av = v < 0 ? -v : v;
  H lo = n;
  if (av > af) lo.bits = static_cast<std::uint16_t>(lo.bits - 1);
  H hi = lo;
  hi.bits = static_cast<std::uint16_t>(hi.bits + 1);
  float alo = widen(lo), ahi = widen(hi);
  alo = alo < 0 ? -alo : alo;
  ahi = ahi < 0 ? -ahi : ahi;
  const float p = div_rn(af - alo, ahi - alo);
  const float u = mul_rn(static_cast<float>(r >> 8), 1.0f / 16777216.0f);
  return u < p ? hi : lo;
}

/// One trainable block as the kernels see it. Blocks are grouped by element type; tiles count within the group,
/// counters (of the Gaussian layout, 16 per 64 elements) over the whole store.
struct Segment {
  void* data;
  std::uint64_t size;
  std::uint64_t snapshot_offset;  ///< bytes into the snapshot buffer
  std::uint64_t first_tile;
  std::uint64_t first_counter;
  std::uint32_t block;  ///< the block's index in the store: the Philox counter word that separates blocks
  std::uint32_t decay;
};

/// A sweep's plan as kernel parameters (about 1.1 KB: well inside the 4 KB parameter space).
struct SweepArgs {
  std::uint64_t seeds[kMaxSweepTerms];
  float coeff[kMaxSweepTerms];
  float coeff_nodecay[kMaxSweepTerms];
  float scale, scale_nodecay;
  std::uint64_t rounding_seed;
  std::uint32_t terms;
  bool from_snapshot, save_snapshot, stochastic;
};

/// What one thread does: elements 64 g + 16 j + l (j = 0..3) of a segment for counter c = 16 g + l. `round[j]` is the
/// stochastic-rounding word of element j (Philox counter i / 4 of the rounding stream, word i % 4). Returns how many
/// 16-bit elements kept their bits although their value should have changed.
template <class T, bool Rademacher>
ZEROTH_HOST_DEVICE inline unsigned sweep_counter(const SweepArgs& a, const Segment& s, std::uint64_t c, T* x,
                                                 T* snap, const std::uint32_t round[4]) {
  float w[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  const float* coeff = s.decay ? a.coeff : a.coeff_nodecay;
  for (std::uint32_t k = 0; k < a.terms; ++k) {
    float z[4];
    direction4<Rademacher>(a.seeds[k], s.block, c, z);
    for (int j = 0; j < 4; ++j) w[j] = k == 0 ? mul_rn(coeff[k], z[j]) : fma_rn(coeff[k], z[j], w[j]);
  }
  const float scale = s.decay ? a.scale : a.scale_nodecay;
  const std::uint64_t first = (c >> 4) * 64 + (c & 15u);
  unsigned vanished = 0;
  for (int j = 0; j < 4; ++j) {
    const std::uint64_t i = first + 16u * j;
    if (i >= s.size) break;
    // A float32 update read from the snapshot never needs x: one read stream less.
    const bool need_old = !std::is_same_v<T, float> || a.save_snapshot || !a.from_snapshot;
    const T old = need_old ? x[i] : T{};
    if (a.save_snapshot) snap[i] = old;
    const T src = a.from_snapshot && !a.save_snapshot ? snap[i] : old;
    const float v = fma_rn(scale, widen(src), w[j]);
    if constexpr (std::is_same_v<T, float>) {
      x[i] = v;
    } else {
      const T out = a.stochastic ? round_stochastic<T>(v, round[j]) : narrow<T>(v);
      if (out.bits == old.bits && v != widen(old)) ++vanished;
      x[i] = out;
    }
  }
  return vanished;
}

/// The rounding words of counter c's elements, computed directly (the kernel shares them across lanes instead).
ZEROTH_HOST_DEVICE inline void rounding_words_direct(std::uint64_t seed, std::uint32_t block, std::uint64_t c,
                                                     std::uint32_t round[4]) {
  const std::uint64_t first = (c >> 4) * 64 + (c & 15u);
  for (int j = 0; j < 4; ++j) {
    const std::uint64_t i = first + 16u * j;
    round[j] = philox_words(seed, block, i >> 2, static_cast<std::uint32_t>(Stream::rounding)).w[i & 3];
  }
}

}  // namespace zeroth::gpu::detail
