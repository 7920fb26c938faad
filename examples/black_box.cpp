// Black-box optimization out of the box: a C function of a plain buffer and an exact evaluation budget, first with
// zeroth::minimize's untuned defaults (CMA-ES at this d = 50), then a named method with box bounds; the best point
// evaluated comes back, and a diverging ZO run would stop with Status::diverged instead of running away.
#include <cmath>
#include <cstdio>
#include <vector>
#include <zeroth/zeroth.hpp>

// A non-smooth test function (shifted L1 plus a quadratic), minimum 0 at x_i = 0.3; any C function will do.
extern "C" double objective(const double* x, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += std::abs(x[i] - 0.3) + 0.5 * (x[i] - 0.3) * (x[i] - 0.3);
  return s;
}

int main() {
  std::vector<double> x(50, -1.0);
  const double start = objective(x.data(), x.size());
  // The defaults: nothing to tune but the budget.
  const zeroth::Result d = zeroth::minimize(objective, x.data(), x.size(), {.max_evaluations = 6001});
  std::printf("zeroth::minimize: %llu evaluations, loss %.1f -> best %.4f\n",
              static_cast<unsigned long long>(d.evaluations), start, d.best_loss);
  x.assign(50, -1.0);
  zeroth::ZOAdam opt({.learning_rate = 5e-3,
                      .epsilon = 1e-3,
                      .max_steps = 100000,
                      .max_evaluations = 6001,  // 3000 steps of 2 evaluations and the final one, never more
                      .lower_bounds = {-1.0},
                      .upper_bounds = {1.0}});
  const zeroth::Result r = opt.minimize(objective, x.data(), x.size());
  std::printf("%s: %llu evaluations, loss %.1f -> best %.4f at step %llu (last %.4f)\n", r.message.c_str(),
              static_cast<unsigned long long>(r.evaluations), start, r.best_loss,
              static_cast<unsigned long long>(r.best_step), r.last_loss);
  std::printf("x holds the best point: objective(x) = %.4f\n", objective(x.data(), x.size()));
}
