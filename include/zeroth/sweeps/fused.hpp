#pragma once
// The element-wise fused sweep for stateful update rules: per element, the step's starting value x0 and
// u = sum_k c_k z_k are formed in one pass (z regenerated, never stored) and handed to the rule's element function,
// which updates its own state and returns the new value. Each element depends only on itself, so any thread count
// gives the same bits; reductions are summed per range, then in range order.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

#include "zeroth/core/exact_math.hpp"
#include "zeroth/random/philox_simd.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// What a fused sweep reads: x0 = source + s * sum_k back[k] z_k, and u = sum_k coeff[k] z_k.
struct FusedPlan {
  Direction kind = Direction::gaussian;
  std::span<const std::uint64_t> seeds{};
  std::span<const double> coeff{};             ///< u = sum_k coeff[k] z_k (typically the estimate g-hat)
  std::span<const double> back{};              ///< empty: the source already is x0
  std::span<const float* const> back_scale{};  ///< per block s in the back term (null or empty: 1)
  bool from_snapshot = false;                  ///< read the source from the snapshot
  Rounding rounding = Rounding::nearest;
  std::uint64_t rounding_seed = 0;
  std::span<const std::uint8_t> active{};  ///< per direction and block, as SweepPlan::active
  ElementMask mask{};                      ///< z_k <- m ⊙ z_k, as SweepPlan::mask
  bool bounded = false;                    ///< bring written values into the blocks' bounds, as SweepPlan::bounded
};

namespace detail {

/// The chunk loop of a fused sweep over elements [begin, end) of one block. With `Write`, x[i] <- f(block, decay, i,
/// x0, u); otherwise f is only called (a read-only pass for reductions).
template <bool Write, class T, class F>
inline void fused_range(const FusedPlan& p, std::uint32_t block, bool decay, T* x, const T* snap, std::size_t begin,
                        std::size_t end, F& f, SweepStats& st, const Bounds* bd) {
  using C = compute_t<T>;
  constexpr std::size_t G = random::kGroup;
  const SweepPlan sp{.kind = p.kind, .seeds = p.seeds, .active = p.active, .mask = p.mask};
  const T* src = p.from_snapshot ? snap : x;
  const bool back = !p.back.empty();
  const float* s = p.back_scale.empty() ? nullptr : p.back_scale[block];
  alignas(64) C u[G], b[G];
  constexpr bool narrow = std::is_same_v<T, bfloat16> || std::is_same_v<T, float16>;
  std::uint32_t words[4][16];  // stochastic rounding words of a whole group, drawn 16 counters at once
  for (std::uint64_t g = begin / G; g * G < end; ++g) {
    const std::size_t lo = std::max<std::size_t>(begin, g * G), hi = std::min<std::size_t>(end, g * G + G);
    combine_directions<C>(sp, p.coeff, block, g, u, back ? p.back : std::span<const double>{}, back ? b : nullptr);
    const bool group_words = Write && narrow && p.rounding == Rounding::stochastic && hi - lo == G;
    if (group_words) random::philox16(p.rounding_seed, block, (g * G) >> 2, Stream::rounding, words);
    for (std::size_t i = lo; i < hi; ++i) {
      C x0 = load_elem(src[i]);
      if (back) x0 = exact::fma(s ? static_cast<C>(s[i]) : C(1), b[i - g * G], x0);  // as the device kernel
      if constexpr (Write) {
        auto v = static_cast<C>(f(block, decay, i, x0, u[i - g * G]));
        if constexpr (!narrow)
          if (bd != nullptr) v = bounded_elem(*bd, i, v);
        if constexpr (narrow)  // element i: word i % 4 of counter i / 4, as store_elem draws it
          if (group_words) {
            store_rounded(x[i], v, p.rounding, words[i & 3][(i - lo) >> 2], st);
            continue;
          }
        store_elem(x, i, v, p.rounding, p.rounding_seed, block, st);
      } else {
        f(block, decay, i, x0, u[i - g * G]);
      }
    }
  }
}

template <bool Write, class F>
inline SweepStats fused_ranges(BufferStore& store, Snapshot* snapshot, const FusedPlan& p,
                               std::span<const BufferStore::Chunk> ranges, F& f, [[maybe_unused]] int threads) {
  if (p.seeds.size() > kMaxSweepTerms) throw std::invalid_argument("zeroth: too many directions in one sweep");
  if (p.from_snapshot && (snapshot == nullptr || snapshot->empty()))
    throw std::logic_error("zeroth: sweep needs a snapshot");
  const auto blocks = store.blocks();
  const long n = static_cast<long>(ranges.size());
  std::size_t vanished = 0;
#pragma omp parallel for num_threads(thread_count(threads)) schedule(dynamic, 1) reduction(+ : vanished) if (n > 1)
  for (long c = 0; c < n; ++c) {
    const auto& ch = ranges[c];
    const Block& b = blocks[ch.block];
    void* snap = snapshot ? snapshot->block(ch.block) : nullptr;
    SweepStats st;
    auto run = [&](auto* x) {
      using T = std::remove_pointer_t<decltype(x)>;
      auto element = [&](std::uint32_t blk, bool decay, std::size_t i, auto x0, auto u) {
        if constexpr (Write)
          return f(blk, decay, i, x0, u);
        else
          f(static_cast<std::size_t>(c), blk, decay, i, x0, u);
      };
      fused_range<Write>(p, ch.block, b.flags.decay, x, static_cast<const T*>(snap), ch.begin, ch.end, element, st,
                         p.bounded && !b.bounds.empty() ? &b.bounds : nullptr);
    };
    switch (b.dtype) {
      case DType::f32:
        run(static_cast<float*>(b.data));
        break;
      case DType::f64:
        run(static_cast<double*>(b.data));
        break;
      case DType::bf16:
        run(static_cast<bfloat16*>(b.data));
        break;
      case DType::f16:
        run(static_cast<float16*>(b.data));
        break;
    }
    vanished += st.vanished;
  }
  return {vanished};
}

}  // namespace detail

/// Writes x[i] <- f(block, decay, i, x0, u) for every trainable element, in one pass over the store's chunks.
///   fused_sweep(store, nullptr, plan, [&](auto b, bool decay, std::size_t i, auto x0, auto u) { return x0 - lr * u;
///   });
template <class F>
inline SweepStats fused_sweep(BufferStore& store, Snapshot* snapshot, const FusedPlan& p, F&& f, int threads = 0) {
  return detail::fused_ranges<true>(store, snapshot, p, store.chunks(), f, threads);
}

/// A read-only pass: calls f(range, block, decay, i, x0, u) over `ranges` (each range on one thread), for
/// reductions that a rule accumulates per range and then sums in range order (independent of the thread count).
template <class F>
inline void fused_visit(BufferStore& store, Snapshot* snapshot, const FusedPlan& p,
                        std::span<const BufferStore::Chunk> ranges, F&& f, int threads = 0) {
  detail::fused_ranges<false>(store, snapshot, p, ranges, f, threads);
}

}  // namespace zeroth
