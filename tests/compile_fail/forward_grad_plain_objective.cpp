// Must not compile: forward-grad with an objective written for double only (it cannot see dual numbers).
#include <zeroth/zeroth.hpp>

int main() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(4);
  zeroth::ForwardGradSGD().minimize([](const Eigen::VectorXd& v) { return v.squaredNorm(); }, x);
}
