// A callback with none of the hooks is an error, not silently ignored.
#include <zeroth/zeroth.hpp>

struct NotACallback {
  int steps = 0;
};

int main() {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(4);
  zeroth::ZOSGD opt({.max_steps = 2});
  opt.minimize([](const Eigen::VectorXd& v) { return v.squaredNorm(); }, x, NotACallback{});
}
