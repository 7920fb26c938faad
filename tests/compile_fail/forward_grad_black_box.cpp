// Must not compile: forward-grad over a C-style black-box objective (no dual numbers); the message suggests RGE.
#include <cstddef>
#include <vector>
#include <zeroth/zeroth.hpp>

double sphere(const double* x, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

int main() {
  std::vector<double> x(4, 1.0);
  zeroth::ForwardGradSGD().minimize(sphere, x.data(), x.size());
}
