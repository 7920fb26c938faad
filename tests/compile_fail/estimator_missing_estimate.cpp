// Must not compile: an estimator without estimate(). Expected: "zeroth: the estimator needs ...".
#include <zeroth/zeroth.hpp>

struct NoEstimate {
  int directions() const { return 1; }
  int evaluations() const { return 2; }
  zeroth::Direction direction() const { return zeroth::Direction::gaussian; }
  void point(int, std::span<double>) const {}
};

int main() { zeroth::Optimizer<NoEstimate> opt; }
