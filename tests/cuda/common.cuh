#pragma once
// Helpers shared by the CUDA tests: the skip guard, deterministic fills, bit comparison.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <zeroth/cuda/check.cuh>
#include <zeroth/random/philox.hpp>
#include <zeroth/stores/dtype.hpp>

namespace zeroth_test {

/// Why device tests cannot run here, or "" (asked once per process).
inline const std::string& no_device() {
  static const std::string why = zeroth::gpu::no_device_reason();
  return why;
}

/// Values in [-0.1, 0.1) from a fixed stream, in any element type.
template <class T>
std::vector<T> filled(std::size_t n, std::uint64_t salt) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto w = zeroth::random::philox(salt, 0, i, zeroth::Stream::sampling);
    const float f = (float(w[0] >> 8) / 16777216.0f - 0.5f) * 0.2f;
    if constexpr (std::is_same_v<T, float>)
      v[i] = f;
    else
      v[i] = zeroth::from_float<T>(f);
  }
  return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
std::size_t count_different(const std::vector<T>& a, const std::vector<T>& b) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(T)) != 0;
  return n;
}

}  // namespace zeroth_test

/// Ends a device test with a Catch2 warning (which the runner always prints; ctest reports the test as skipped)
/// when no usable CUDA device is present.
#define ZEROTH_REQUIRE_DEVICE()                                         \
  do {                                                                  \
    if (!::zeroth_test::no_device().empty()) {                          \
      WARN("no CUDA device: " << ::zeroth_test::no_device() << "; skipped"); \
      return;                                                           \
    }                                                                   \
  } while (0)
