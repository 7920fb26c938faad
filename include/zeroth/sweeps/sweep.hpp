#pragma once
// The fused in-place sweep: x <- a * source + sum_k c_k z(seed_k), every direction regenerated on the fly,
// parallel over fixed chunks; each element depends only on itself and its index, so any thread count gives the
// same bits.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "zeroth/core/simd_fma.hpp"
#include "zeroth/random/direction.hpp"
#include "zeroth/random/philox_simd.hpp"
#include "zeroth/stores/buffer_store.hpp"
#include "zeroth/sweeps/mask.hpp"
#include "zeroth/sweeps/snapshot.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace zeroth {

/// The most directions one sweep combines (q of a step, or the block-wise schedule's terms).
inline constexpr std::size_t kMaxSweepTerms = 64;

/// What one sweep computes: x <- scale * source + sum_k coeff[k] * norm[k] * z(seeds[k]) per trainable block.
struct SweepPlan {
  Direction kind = Direction::gaussian;
  std::span<const std::uint64_t> seeds{};
  std::span<const double> coeff{};          ///< coefficients for blocks with weight decay
  std::span<const double> coeff_nodecay{};  ///< for blocks exempt from decay; empty means `coeff`
  double scale = 1.0;                       ///< multiplies the source in decay blocks
  double scale_nodecay = 1.0;
  bool from_snapshot = false;  ///< read the source from the snapshot instead of x
  bool save_snapshot = false;  ///< copy x into the snapshot before changing it
  Rounding rounding = Rounding::nearest;
  std::uint64_t rounding_seed = 0;  ///< stream for stochastic rounding (unique per sweep)
  /// Per trainable block, a per-element factor s multiplying the direction terms (null or empty: 1), as HiZOO's
  /// H^{-1/2}: x <- a * source + s * sum_k c_k z_k.
  std::span<const float* const> direction_scale{};
  /// Per direction k and block b, whether z_k touches block b: active[k * blocks + b] (empty: every block), for
  /// block-wise estimators.
  std::span<const std::uint8_t> active{};
  ElementMask mask{};  ///< z_k <- m ⊙ z_k for every term (sparse estimators; empty: no mask)
  /// Bring the results into the blocks' box bounds (Block::bounds): the update sweeps of the rules set it. Blocks
  /// without bounds take the usual path; bounded ones go element by element.
  bool bounded = false;
};

/// Counts a sweep reports.
struct SweepStats {
  std::size_t vanished = 0;  ///< 16-bit elements whose change rounded away entirely
};

namespace detail {

template <class T>
using compute_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <class T>
inline compute_t<T> load_elem(const T& v) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
    return v;
  else
    return to_float(v);
}

/// w[0..64) <- sum_k c_k z_k for group g of `block` (vectorised with xsimd); with `w2`, also w2 <- sum_k c2_k z_k
/// from the same generated z (one generation for both combinations).
template <class C>
inline void combine_directions(const SweepPlan& p, std::span<const double> coeff, std::uint32_t block, std::uint64_t g,
                               C* w, std::span<const double> coeff2 = {}, C* w2 = nullptr) {
  using B = xsimd::batch<C>;
  alignas(64) float z[random::kGroup];
  auto accumulate = [&](bool first, C c, C* out) {
    if constexpr (std::is_same_v<C, float>) {
      for (std::size_t i = 0; i < random::kGroup; i += B::size) {
        const B zc = B::load_aligned(z + i);  // the first term is c z, later ones fma(c, z, w): the same as a sum from 0
        (first ? B(c) * zc : detail::fused_fma(B(c), zc, B::load_aligned(out + i))).store_aligned(out + i);
      }
    } else {
      for (std::size_t i = 0; i < random::kGroup; ++i)
        out[i] = first ? c * static_cast<double>(z[i]) : std::fma(c, static_cast<double>(z[i]), out[i]);
    }
  };
  const std::size_t nb = p.active.empty() || p.seeds.empty() ? 0 : p.active.size() / p.seeds.size();
  bool first = true;
  for (std::size_t k = 0; k < p.seeds.size(); ++k) {
    if (nb != 0 && !p.active[k * nb + block]) continue;  // z_k does not touch this block
    random::direction_group(p.kind, p.seeds[k], block, g, z);
    accumulate(first, static_cast<C>(coeff[k]), w);
    if (w2) accumulate(first, static_cast<C>(coeff2[k]), w2);
    first = false;
  }
  if (first) std::fill(w, w + random::kGroup, C(0));
  if (first && w2) std::fill(w2, w2 + random::kGroup, C(0));
  if (!first && !p.mask.empty()) {
    const std::uint64_t m = p.mask.group_bits(block, g);
    if (m != ~std::uint64_t{0})
      for (std::size_t i = 0; i < random::kGroup; ++i)
        if (!((m >> i) & 1u)) {
          w[i] = C(0);
          if (w2) w2[i] = C(0);
        }
  }
}

/// Rounds v into the 16-bit element x (to nearest, or stochastically with the random word r), counting a change that
/// vanished.
template <class T>
inline void store_rounded(T& x, float v, Rounding rounding, std::uint32_t r, SweepStats& st) {
  const float old = to_float(x);
  const T out = rounding == Rounding::stochastic ? round_stochastic<T>(v, r) : from_float<T>(v);
  if (out.bits == x.bits && v != old) ++st.vanished;
  x = out;
}

/// Stores the float/double result `v` into x[i] (rounding 16-bit types as the plan says), counting vanished updates.
/// Stochastic rounding of element i uses word i % 4 of Philox counter i / 4 of (rounding_seed, block).
template <class T>
inline void store_elem(T* x, std::size_t i, compute_t<T> v, Rounding rounding, std::uint64_t rounding_seed,
                       std::uint32_t block, SweepStats& st) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    x[i] = v;
  } else {
    const std::uint32_t r =
        rounding == Rounding::stochastic ? random::philox(rounding_seed, block, i >> 2, Stream::rounding)[i & 3] : 0;
    store_rounded(x[i], v, rounding, r, st);
  }
}

/// store_elem over the 64 elements of a whole group of a 16-bit type, x[i] <- round(fma(a, src[i], w[i])) for the
/// group starting at element `first` of `block`: nearest rounding in branch-free loops the compiler vectorises,
/// stochastic rounding with the group's 16 Philox counters generated at once (element by element, a nearest
/// bfloat16 sweep ran 7x slower than a float one, a stochastic one 60x). `first` is a multiple of 64.
template <class T>
inline void store_group(T* x, const T* src, float a, const float* w, const SweepPlan& p, std::uint32_t block,
                        std::size_t first, SweepStats& st) {
  constexpr std::size_t G = random::kGroup;
  alignas(64) float v[G];
  for (std::size_t i = 0; i < G; ++i) v[i] = std::fma(a, to_float(src[i]), w[i]);
  std::size_t vanished = 0;
  auto store = [&](auto round) {  // round(i): element i rounded; inlined into loops the compiler vectorises
    for (std::size_t i = 0; i < G; ++i) {
      const T out = round(i);
      vanished += static_cast<std::size_t>((out.bits == x[i].bits) & (v[i] != to_float(x[i])));
      x[i].bits = out.bits;  // the member, not the struct: a struct copy keeps GCC from vectorising
    }
  };
  if (p.rounding == Rounding::stochastic) {
    std::uint32_t words[4][16];
    random::philox16(p.rounding_seed, block, first >> 2, Stream::rounding, words);
    alignas(64) std::uint32_t r[G];  // element i rounds with word i % 4 of counter (first + i) / 4
    for (std::size_t i = 0; i < G; ++i) r[i] = words[i & 3][i >> 2];
    store([&](std::size_t i) { return round_stochastic<T>(v[i], r[i]); });
  } else {
    store([&](std::size_t i) { return from_float<T>(v[i]); });
  }
  st.vanished += vanished;
}

/// How far ahead (in elements) the direct path prefetches x for writing: 4 KiB. Generation is compute-bound and the
/// hardware prefetcher alone fell behind with two threads (a two-thread Gaussian sweep at 10^7 ran 3.85e9/s without,
/// 4.3e9/s with).
inline constexpr std::size_t kPrefetch = 1024;

/// A hint to bring the cache line at p in (for writing or reading); does nothing without GCC/Clang builtins.
inline void prefetch(const void* p, bool for_write) {
#if defined(__GNUC__)
  if (for_write)
    __builtin_prefetch(p, 1);
  else
    __builtin_prefetch(p, 0);
#else
  (void)p, (void)for_write;
#endif
}

/// v brought into the box of element i (float32/float64 only), rounded to T without leaving it.
template <class C>
inline C bounded_elem(const Bounds& bd, std::size_t i, C v) {
  const double r = bd.apply(i, static_cast<double>(v));
  C c = static_cast<C>(r);
  if (static_cast<double>(c) < bd.lo(i)) c = std::nextafter(c, std::numeric_limits<C>::infinity());
  if (static_cast<double>(c) > bd.hi(i)) c = std::nextafter(c, -std::numeric_limits<C>::infinity());
  return c;
}

template <class T>
inline void sweep_chunk(const SweepPlan& p, std::uint32_t block, bool decay, T* x, T* snap, std::size_t begin,
                        std::size_t end, SweepStats& st, const Bounds* bd = nullptr) {
  using C = compute_t<T>;
  using B = xsimd::batch<C>;
  constexpr std::size_t G = random::kGroup;
  const auto coeff = decay || p.coeff_nodecay.empty() ? p.coeff : p.coeff_nodecay;
  const C a = static_cast<C>(decay ? p.scale : p.scale_nodecay);
  const T* src = p.from_snapshot ? snap : x;
  alignas(64) C w[G];
  // The common case (one direction, float or 16-bit, no scale or mask): x = fma(a, x, c z) straight from the
  // generated z, the same bits as the general path without its round trip through w.
  constexpr bool narrow = std::is_same_v<T, bfloat16> || std::is_same_v<T, float16>;
  const bool direct = bd == nullptr && (std::is_same_v<T, float> || narrow) && p.seeds.size() == 1 &&
                      p.active.empty() && p.mask.empty() &&
                      (p.direction_scale.empty() || p.direction_scale[block] == nullptr);
  for (std::uint64_t g = begin / G; g * G < end; ++g) {
    const std::size_t lo = std::max<std::size_t>(begin, g * G), hi = std::min<std::size_t>(end, g * G + G);
    if constexpr (std::is_same_v<T, float> || narrow) {
      // Whole groups straight from the generator, two at a time where they fit (gaussian_groups interleaves them).
      auto direct_groups = [&]<std::size_t K>() {
        alignas(64) float z[K * G];
        if (p.save_snapshot) std::copy(x + lo, x + lo + K * G, snap + lo);
        if (lo + kPrefetch + K * G <= end)
          for (std::size_t i = lo + kPrefetch; i < lo + kPrefetch + K * G; i += 64 / sizeof(T)) {
            prefetch(x + i, true);
            if (src != x) prefetch(src + i, false);
          }
        random::direction_groups<K>(p.kind, p.seeds[0], block, g, z);
        const B c(static_cast<float>(coeff[0])), av(a);
        if constexpr (narrow) {
          for (std::size_t i = 0; i < K * G; i += B::size) (c * B::load_aligned(z + i)).store_aligned(z + i);
          for (std::size_t k = 0; k < K; ++k)
            store_group(x + lo + k * G, src + lo + k * G, a, z + k * G, p, block, lo + k * G, st);
        } else {
          for (std::size_t i = 0; i < K * G; i += B::size)
            detail::fused_fma(av, B::load_unaligned(src + lo + i), c * B::load_aligned(z + i))
                .store_unaligned(x + lo + i);
        }
        g += K - 1;
      };
      if (direct && lo == g * G && end - lo >= 2 * G) {
        direct_groups.template operator()<2>();
        continue;
      }
      if (direct && hi - lo == G) {
        direct_groups.template operator()<1>();
        continue;
      }
    }
    combine_directions<C>(p, coeff, block, g, w);
    if (!p.direction_scale.empty() && p.direction_scale[block] != nullptr)
      for (std::size_t i = lo; i < hi; ++i) w[i - g * G] *= p.direction_scale[block][i];
    if (p.save_snapshot) std::copy(x + lo, x + hi, snap + lo);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      if (bd != nullptr) {
        for (std::size_t i = lo; i < hi; ++i) x[i] = bounded_elem(*bd, i, std::fma(a, src[i], w[i - g * G]));
      } else if (hi - lo == G) {
        for (std::size_t i = 0; i < G; i += B::size)
          detail::fused_fma(B(a), B::load_unaligned(src + lo + i), B::load_aligned(w + i)).store_unaligned(x + lo + i);
      } else {
        for (std::size_t i = lo; i < hi; ++i) x[i] = std::fma(a, src[i], w[i - g * G]);
      }
    } else if (hi - lo == G) {
      store_group(x + lo, src + lo, a, w, p, block, lo, st);
    } else {
      for (std::size_t i = lo; i < hi; ++i)
        store_elem(x, i, std::fma(a, load_elem(src[i]), w[i - g * G]), p.rounding, p.rounding_seed, block, st);
    }
  }
}

inline int thread_count(int requested) {
#ifdef _OPENMP
  return requested > 0 ? requested : omp_get_max_threads();
#else
  (void)requested;
  return 1;
#endif
}

}  // namespace detail

/// Runs one sweep over every trainable block of `store`. `snapshot` may be null unless the plan reads or writes it.
inline SweepStats sweep(BufferStore& store, Snapshot* snapshot, const SweepPlan& p, [[maybe_unused]] int threads = 0) {
  if (p.seeds.size() > kMaxSweepTerms) throw std::invalid_argument("zeroth: too many directions in one sweep");
  if ((p.from_snapshot || p.save_snapshot) && (snapshot == nullptr || snapshot->empty()))
    throw std::logic_error("zeroth: sweep needs a snapshot");
  const auto chunks = store.chunks();
  const auto blocks = store.blocks();
  const long n = static_cast<long>(chunks.size());
  std::size_t vanished = 0;
#pragma omp parallel for num_threads(detail::thread_count(threads)) schedule(dynamic, 1) reduction(+ : vanished) if (n > 1)
  for (long c = 0; c < n; ++c) {
    const auto& ch = chunks[c];
    const Block& b = blocks[ch.block];
    void* snap = snapshot ? snapshot->block(ch.block) : nullptr;
    const Bounds* bd = p.bounded && !b.bounds.empty() ? &b.bounds : nullptr;
    SweepStats st;
    switch (b.dtype) {
      case DType::f32:
        detail::sweep_chunk(p, ch.block, b.flags.decay, static_cast<float*>(b.data), static_cast<float*>(snap),
                            ch.begin, ch.end, st, bd);
        break;
      case DType::f64:
        detail::sweep_chunk(p, ch.block, b.flags.decay, static_cast<double*>(b.data), static_cast<double*>(snap),
                            ch.begin, ch.end, st, bd);
        break;
      case DType::bf16:
        detail::sweep_chunk(p, ch.block, b.flags.decay, static_cast<bfloat16*>(b.data), static_cast<bfloat16*>(snap),
                            ch.begin, ch.end, st);
        break;
      case DType::f16:
        detail::sweep_chunk(p, ch.block, b.flags.decay, static_cast<float16*>(b.data), static_cast<float16*>(snap),
                            ch.begin, ch.end, st);
        break;
    }
    vanished += st.vanished;
  }
  return {vanished};
}

/// Copies the snapshot back into the trainable blocks: bit-exact rollback.
inline void restore_snapshot(BufferStore& store, Snapshot& snapshot, [[maybe_unused]] int threads = 0) {
  const auto chunks = store.chunks();
  const auto blocks = store.blocks();
  const long n = static_cast<long>(chunks.size());
#pragma omp parallel for num_threads(detail::thread_count(threads)) schedule(dynamic, 1) if (n > 1)
  for (long c = 0; c < n; ++c) {
    const auto& ch = chunks[c];
    const std::size_t es = size_of(blocks[ch.block].dtype);
    std::memcpy(static_cast<std::byte*>(blocks[ch.block].data) + ch.begin * es,
                static_cast<std::byte*>(snapshot.block(ch.block)) + ch.begin * es, (ch.end - ch.begin) * es);
  }
}

/// Sum of z^2 over the trainable elements for a Gaussian direction: the squared norm a sphere direction divides by.
/// Summed per chunk in double and then in chunk order, so the result does not depend on the thread count.
inline double gaussian_sq_norm(const BufferStore& store, std::uint64_t seed, std::span<double> partials,
                               [[maybe_unused]] int threads = 0) {
  const auto chunks = store.chunks();
  if (partials.size() < chunks.size()) throw std::logic_error("zeroth: partials buffer too small");
  const long n = static_cast<long>(chunks.size());
#pragma omp parallel for num_threads(detail::thread_count(threads)) schedule(dynamic, 1) if (n > 1)
  for (long c = 0; c < n; ++c) {
    const auto& ch = chunks[c];
    alignas(64) float z[random::kGroup];
    double s = 0;
    for (std::uint64_t g = ch.begin / random::kGroup; g * random::kGroup < ch.end; ++g) {
      random::gaussian_group(seed, ch.block, g, z);
      const std::size_t lo = std::max<std::size_t>(ch.begin, g * random::kGroup) - g * random::kGroup;
      const std::size_t hi = std::min<std::size_t>(ch.end, g * random::kGroup + random::kGroup) - g * random::kGroup;
      for (std::size_t i = lo; i < hi; ++i) s += double(z[i]) * z[i];
    }
    partials[c] = s;
  }
  double total = 0;
  for (long c = 0; c < n; ++c) total += partials[c];
  return total;
}

}  // namespace zeroth
