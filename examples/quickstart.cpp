// Quickstart: minimize a black-box function of 1000 variables with MeZO's ZO-SGD.
#include <zeroth/zeroth.hpp>

#include <cstdio>

int main() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(1000);
  auto f = [](const Eigen::VectorXd& v) {  // any black box returning a number
    return (v.array() - 1.0).square().sum() + 0.1 * v.array().abs().sum();
  };
  zeroth::ZOSGD opt({.learning_rate = 5e-4, .epsilon = 1e-3, .max_steps = 20000});
  zeroth::Result r = opt.minimize(f, x, zeroth::ProgressBar());
  std::printf("%s: loss %.3f after %llu evaluations\n", r.message.c_str(), r.loss,
              static_cast<unsigned long long>(r.evaluations));
}
