// A new ZO variant in a few lines: block-wise directions, 25% random sparse masks resampled every 20 steps, and Adam.
#include <cstdio>
#include <zeroth/zeroth.hpp>

using SparseBlockAdam = zeroth::Optimizer<zeroth::Sparse<zeroth::BlockwiseRGE, zeroth::RandomMask>, zeroth::Adam>;

int main() {
  Eigen::VectorXf w = Eigen::VectorXf::Zero(1000), b = Eigen::VectorXf::Zero(50);  // two parameter blocks
  auto loss = [&] { return double((w.array() - 0.5).square().sum() + 10 * (b.array() + 1).square().sum()); };
  zeroth::EigenStore store(w, b);
  SparseBlockAdam opt({.learning_rate = 1e-2, .epsilon = 1e-3, .max_steps = 3000, .seed = 1},
                      {zeroth::RandomMask({.ratio = 0.25, .period = 20}), zeroth::BlockwiseRGE({.per_step = 1})});
  const double before = loss();
  const zeroth::Result r = opt.minimize(loss, store);
  std::printf("loss %.4g -> %.4g in %llu steps, %llu evaluations (%s)\n", before, r.loss,
              static_cast<unsigned long long>(r.steps), static_cast<unsigned long long>(r.evaluations),
              r.message.c_str());
  return r.loss < before ? 0 : 1;
}
