#pragma once
// A fused multiply-add on xsimd batches that is fused on every architecture that has one. xsimd 8 has no AVX-512 fma:
// its generic a * b + c is fused or not at the compiler's whim, which would let a SIMD path differ from std::fma.
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace zeroth::detail {

/// a * b + c rounded once, for batches of float or double.
template <class T, class A>
inline xsimd::batch<T, A> fused_fma(const xsimd::batch<T, A>& a, const xsimd::batch<T, A>& b,
                                    const xsimd::batch<T, A>& c) {
#if defined(__AVX512F__)
  if constexpr (std::is_base_of_v<xsimd::avx512f, A>) {
    if constexpr (std::is_same_v<T, float>)
      return xsimd::batch<T, A>(_mm512_fmadd_ps(a, b, c));
    else
      return xsimd::batch<T, A>(_mm512_fmadd_pd(a, b, c));
  }
#endif
  return xsimd::fma(a, b, c);
}

}  // namespace zeroth::detail
