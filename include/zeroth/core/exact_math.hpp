#pragma once
// Arithmetic rounded once per operation on host and device alike, for the per-element maths the CPU rules and the
// device kernels share. Every multiply-add is written as an explicit fma and no plain add ever takes a product, so
// neither g++'s -ffp-contract=fast nor nvcc's --fmad has anything left to contract: the same bits everywhere.
#include <cmath>

#include "zeroth/core/host_device.hpp"

namespace zeroth::exact {

/// a * b + c rounded once.
template <class C>
ZEROTH_HOST_DEVICE inline C fma(C a, C b, C c) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(C) == 4)
    return __fmaf_rn(a, b, c);
  else
    return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

/// a * b rounded (never contracted into a neighbouring add on a device).
template <class C>
ZEROTH_HOST_DEVICE inline C mul(C a, C b) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(C) == 4)
    return __fmul_rn(a, b);
  else
    return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

/// a / b correctly rounded whatever -prec-div or --use_fast_math say.
template <class C>
ZEROTH_HOST_DEVICE inline C div(C a, C b) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(C) == 4)
    return __fdiv_rn(a, b);
  else
    return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}

/// sqrt(a) correctly rounded whatever -prec-sqrt says.
template <class C>
ZEROTH_HOST_DEVICE inline C sqrt(C a) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(C) == 4)
    return __fsqrt_rn(a);
  else
    return __dsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

}  // namespace zeroth::exact
