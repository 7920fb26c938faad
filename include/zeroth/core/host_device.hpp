#pragma once
// ZEROTH_HOST_DEVICE: marks a function nvcc compiles for both host and device; empty for a plain C++ compiler.
#if defined(__CUDACC__)
#define ZEROTH_HOST_DEVICE __host__ __device__
// Templates instantiated with host-only types (xsimd batches) as well as float: no host/device call check.
#define ZEROTH_HD_TEMPLATE _Pragma("nv_exec_check_disable")
#else
#define ZEROTH_HOST_DEVICE
#define ZEROTH_HD_TEMPLATE
#endif

// ZEROTH_ALWAYS_INLINE: for hot functions whose callers must keep their SIMD batches in registers (a sweep that
// called the Box-Muller out of line, its batches passed through memory, ran 18% below the generator's speed).
#if defined(__GNUC__) || defined(__clang__)
#define ZEROTH_ALWAYS_INLINE __attribute__((always_inline)) inline
#elif defined(_MSC_VER)
#define ZEROTH_ALWAYS_INLINE __forceinline
#else
#define ZEROTH_ALWAYS_INLINE inline
#endif

#include <cstdint>
#if !defined(__CUDA_ARCH__)
#include <bit>
#endif

namespace zeroth::detail {

/// std::bit_cast between float and its bits, callable on a device too.
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

}  // namespace zeroth::detail
