#pragma once
// The element-level arithmetic of the device sweeps, written once for host and device: Philox words, direction
// elements in the CPU's layout, 16-bit conversions and stochastic rounding, and the body one thread runs. Compiled for
// the host, the very same code is checked bit for bit against the CPU path by tests that need no GPU.
#include <cstdint>
#include <type_traits>

#include <Random123/philox.h>

#include "zeroth/core/exact_math.hpp"
#include "zeroth/core/host_device.hpp"
#include "zeroth/random/philox.hpp"
#include "zeroth/stores/dtype.hpp"
#include "zeroth/sweeps/sweep.hpp"

#define ZEROTH_INTERNAL_INCLUDE
#include "zeroth/random/detail/gaussian_math.hpp"
#undef ZEROTH_INTERNAL_INCLUDE

namespace zeroth::gpu::detail {

/// Elements one thread updates (one Philox counter's worth of a Gaussian direction), threads per CUDA block, and the
/// elements a CUDA block covers (16 direction groups of 64).
inline constexpr unsigned kPerThread = 4, kThreads = 256, kTile = kPerThread * kThreads;

using zeroth::detail::bits_of;
using zeroth::detail::float_of;
using zeroth::round_stochastic;

/// a * b + c rounded once (the CPU path's std::fma / xsimd::fma).
ZEROTH_HOST_DEVICE inline float fma_rn(float a, float b, float c) { return exact::fma(a, b, c); }
/// a * b, never contracted into a neighbouring add.
ZEROTH_HOST_DEVICE inline float mul_rn(float a, float b) { return exact::mul(a, b); }
/// a / b correctly rounded whatever -prec-div or --use_fast_math say.
ZEROTH_HOST_DEVICE inline float div_rn(float a, float b) { return exact::div(a, b); }

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

// 16-bit conversions: zeroth/stores/dtype.hpp's own (host/device) functions, under the names the kernels use.

ZEROTH_HOST_DEVICE inline float widen(float f) { return f; }
ZEROTH_HOST_DEVICE inline float widen(bfloat16 h) { return to_float(h); }
ZEROTH_HOST_DEVICE inline float widen(float16 h) { return to_float(h); }

template <class H>
ZEROTH_HOST_DEVICE inline H narrow(float f) {
  return from_float<H>(f);
}

/// *x <- v, rounded to a 16-bit type by the plan's rounding (`r`: the element's stochastic-rounding word), as
/// zeroth::detail::store_elem. Returns 1 when a 16-bit element kept its bits `old` although its value should change.
template <class T>
ZEROTH_HOST_DEVICE inline unsigned store_rounded(T* x, T old, float v, bool stochastic, std::uint32_t r) {
  if constexpr (std::is_same_v<T, float>) {
    *x = v;
    return 0;
  } else {
    const T out = stochastic ? round_stochastic<T>(v, r) : narrow<T>(v);
    *x = out;
    return out.bits == old.bits && v != widen(old) ? 1u : 0u;
  }
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
  std::uint64_t first_element;  ///< trainable elements before this segment (in launch order): its rule-state offset
};

/// A sweep's plan as kernel parameters (about 1.1 KB: well inside the 4 KB parameter space).
struct SweepArgs {
  std::uint64_t seeds[kMaxSweepTerms];
  float coeff[kMaxSweepTerms];
  float coeff_nodecay[kMaxSweepTerms];
  float scale, scale_nodecay;
  std::uint64_t rounding_seed;
  /// Per-element factor s of the direction terms (HiZOO's H^{-1/2}), indexed by Segment::first_element + i; null: 1.
  const float* direction_scale;
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
    const float wj = a.direction_scale ? mul_rn(w[j], a.direction_scale[s.first_element + i]) : w[j];
    vanished += store_rounded(x + i, old, fma_rn(scale, widen(src), wj), a.stochastic, round[j]);
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
