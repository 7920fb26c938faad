// Must not compile: the objective cannot be called with the parameters. Expected: "zeroth: the objective must be ...".
#include <string>
#include <zeroth/zeroth.hpp>

int main() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(4);
  zeroth::ZOSGD().minimize([](const std::string& s) { return double(s.size()); }, x);
}
