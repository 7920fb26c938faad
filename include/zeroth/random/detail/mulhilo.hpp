#pragma once
// 32x32->64 multiply of every lane by a constant, split into high and low words; one overload per architecture.
#include <cstdint>
#include <utility>

#include <xsimd/xsimd.hpp>

#if !defined(ZEROTH_INTERNAL_INCLUDE)
#error "zeroth/random/detail/mulhilo.hpp is internal: include <zeroth/random/direction.hpp> instead"
#endif

namespace zeroth::random::detail {

template <class A>
using u32batch = xsimd::batch<std::uint32_t, A>;

/// Portable fallback: lane by lane through memory.
template <class A>
inline void mulhilo(const u32batch<A>& a, std::uint32_t m, u32batch<A>& hi, u32batch<A>& lo, xsimd::generic) noexcept {
  alignas(64) std::uint32_t in[u32batch<A>::size], h[u32batch<A>::size], l[u32batch<A>::size];
  a.store_aligned(in);
  for (std::size_t i = 0; i < u32batch<A>::size; ++i) {
    std::uint64_t p = std::uint64_t(in[i]) * m;
    h[i] = std::uint32_t(p >> 32);
    l[i] = std::uint32_t(p);
  }
  hi = u32batch<A>::load_aligned(h);
  lo = u32batch<A>::load_aligned(l);
}

#if defined(__SSE4_1__)
template <class A>
inline void mulhilo(const u32batch<A>& a, std::uint32_t m, u32batch<A>& hi, u32batch<A>& lo, xsimd::sse4_1) noexcept {
  const __m128i mv = _mm_set1_epi32(static_cast<int>(m));
  __m128i even = _mm_mul_epu32(a, mv), odd = _mm_mul_epu32(_mm_srli_epi64(a, 32), mv);
  lo = _mm_blend_epi16(even, _mm_slli_epi64(odd, 32), 0xCC);
  hi = _mm_blend_epi16(_mm_srli_epi64(even, 32), odd, 0xCC);
}
#endif

#if defined(__AVX2__)
template <class A>
inline void mulhilo(const u32batch<A>& a, std::uint32_t m, u32batch<A>& hi, u32batch<A>& lo, xsimd::avx2) noexcept {
  const __m256i mv = _mm256_set1_epi32(static_cast<int>(m));
  __m256i even = _mm256_mul_epu32(a, mv), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mv);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}
#endif

#if defined(__AVX512F__)
template <class A>
inline void mulhilo(const u32batch<A>& a, std::uint32_t m, u32batch<A>& hi, u32batch<A>& lo, xsimd::avx512f) noexcept {
  const __m512i mv = _mm512_set1_epi32(static_cast<int>(m));
  __m512i even = _mm512_mul_epu32(a, mv), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mv);
  // Swap the words of each 64-bit product into place under a mask: one in-lane shuffle per output.
  lo = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
  hi = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB);
}
#endif

}  // namespace zeroth::random::detail
