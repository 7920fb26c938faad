#pragma once
// Test objectives shared by the optimizer tests.
#include <cmath>
#include <cstddef>

namespace zeroth::testing {

/// f(x) = sum_i (1 + i % 3) (x_i - 0.5)^2 over a C buffer: a black box of the shape `double f(const T*, size_t)`.
template <class T>
double quadratic(const T* x, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += (1.0 + double(i % 3)) * std::pow(double(x[i]) - 0.5, 2);
  return s;
}

}  // namespace zeroth::testing
