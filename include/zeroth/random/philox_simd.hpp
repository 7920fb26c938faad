#pragma once
// Philox4x32-10 on SIMD batches of consecutive counters: the words of random::philox, many counters at once.
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "zeroth/core/host_device.hpp"
#include "zeroth/random/philox.hpp"

#define ZEROTH_INTERNAL_INCLUDE
#include "zeroth/random/detail/mulhilo.hpp"
#undef ZEROTH_INTERNAL_INCLUDE

namespace zeroth::random {

/// Counters first .. first + V N - 1 of (seed, block, stream) in V vectors of N lanes: on return x0[v] .. x3[v] hold
/// words 0 .. 3 of counters first + v N + lane. `first` must be a multiple of N (no carry inside a vector). The V
/// vectors' rounds are interleaved: one chain of rounds is latency-bound.
template <std::size_t V, class A>
ZEROTH_ALWAYS_INLINE void philox_batches(std::uint64_t seed, std::uint32_t block, std::uint64_t first, Stream stream,
                                         xsimd::batch<std::uint32_t, A> (&x0)[V],
                                         xsimd::batch<std::uint32_t, A> (&x1)[V],
                                         xsimd::batch<std::uint32_t, A> (&x2)[V],
                                         xsimd::batch<std::uint32_t, A> (&x3)[V]) noexcept {
  using U = xsimd::batch<std::uint32_t, A>;
  constexpr std::size_t N = U::size;
  alignas(64) std::uint32_t lane[N];
  for (std::size_t i = 0; i < N; ++i) lane[i] = static_cast<std::uint32_t>(i);
  const U lanes = U::load_aligned(lane);
  for (std::size_t v = 0; v < V; ++v) {
    const std::uint64_t c = first + v * N;
    x0[v] = U(static_cast<std::uint32_t>(c)) + lanes;
    x1[v] = U(static_cast<std::uint32_t>(c >> 32));
    x2[v] = U(block);
    x3[v] = U(static_cast<std::uint32_t>(stream));
  }
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < kPhiloxRounds; ++r) {
    for (std::size_t v = 0; v < V; ++v) {
      U hi0, lo0, hi1, lo1;
      detail::mulhilo(x0[v], kPhiloxM0, hi0, lo0, A{});
      detail::mulhilo(x2[v], kPhiloxM1, hi1, lo1, A{});
      x0[v] = hi1 ^ x1[v] ^ U(k0);
      x1[v] = lo1;
      x2[v] = hi0 ^ x3[v] ^ U(k1);
      x3[v] = lo0;
    }
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
}

/// w[m][j] = philox(seed, block, first + j, stream)[m] for j < 16: sixteen counters at once. `first` must be a
/// multiple of 16.
template <class A = xsimd::default_arch>
inline void philox16(std::uint64_t seed, std::uint32_t block, std::uint64_t first, Stream stream,
                     std::uint32_t (&w)[4][16]) noexcept {
  using U = xsimd::batch<std::uint32_t, A>;
  constexpr std::size_t N = U::size, V = 16 / N;
  static_assert(16 % N == 0, "zeroth: SIMD width must divide 16 lanes of 32 bits");
  U x0[V], x1[V], x2[V], x3[V];
  philox_batches<V, A>(seed, block, first, stream, x0, x1, x2, x3);
  for (std::size_t v = 0; v < V; ++v) {
    x0[v].store_unaligned(w[0] + v * N);
    x1[v].store_unaligned(w[1] + v * N);
    x2[v].store_unaligned(w[2] + v * N);
    x3[v].store_unaligned(w[3] + v * N);
  }
}

}  // namespace zeroth::random
