// Must not compile: HiZOO's DiagonalHessian with an estimator that reports no curvature.
#include <zeroth/zeroth.hpp>

int main() { zeroth::Optimizer<zeroth::Sparse<zeroth::RGE, zeroth::RandomMask>, zeroth::DiagonalHessian> opt; }
