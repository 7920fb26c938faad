// Must compile: the control for the compile-fail tests (same flags, a composed variant).
#include <zeroth/zeroth.hpp>

int main() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(4);
  zeroth::Optimizer<zeroth::Sparse<zeroth::ThreePointRGE, zeroth::RandomMask>, zeroth::DiagonalHessian> opt;
  opt.minimize([](const Eigen::VectorXd& v) { return v.squaredNorm(); }, x);
  zeroth::ForwardGradSGD().minimize([](const auto& v) { return v.squaredNorm(); }, x);
}
