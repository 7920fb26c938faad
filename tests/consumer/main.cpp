// Minimizes a shifted quadratic through the umbrella header; exits non-zero unless the loss fell.
#include <zeroth/zeroth.hpp>

#include <cstdio>

int main() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(50);
  auto f = [](const Eigen::VectorXd& v) { return (v.array() - 1.0).square().sum(); };
  const double before = f(x);
  zeroth::ZOSGD opt({.learning_rate = 5e-3, .epsilon = 1e-3, .max_steps = 2000});
  zeroth::Result r = opt.minimize(f, x);
  std::printf("consumer: %s, loss %.4g -> %.4g\n", r.message.c_str(), before, r.loss);
  return r.ok() && r.loss < 0.1 * before ? 0 : 1;
}
