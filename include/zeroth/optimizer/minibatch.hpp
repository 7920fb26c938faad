#pragma once
// Minibatch: turns loss(params, batch) into an objective whose batch is a pure function of (seed, step).
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "zeroth/estimators/dual.hpp"
#include "zeroth/random/philox.hpp"

namespace zeroth {

/// Epoch e visits the examples in a permutation drawn from (seed, e); step t takes batch t mod (n / b) of epoch
/// t / (n / b). Both evaluations of a step see the same batch, and a resumed run sees the same batches.
///   auto f = zeroth::Minibatch([&](const Eigen::VectorXf& w, std::span<const std::size_t> idx) { ... },
///                              n_examples, 16, /*seed=*/1);
template <class Loss>
class Minibatch {
 public:
  Minibatch(Loss loss, std::size_t examples, std::size_t batch_size, std::uint64_t seed)
      : loss_(std::move(loss)), n_(examples), b_(batch_size), seed_(seed), perm_(examples), batch_(batch_size) {
    if (batch_size == 0 || batch_size > examples)
      throw std::invalid_argument("zeroth: 'batch_size' must be in [1, " + std::to_string(examples) + "] (got " +
                                  std::to_string(batch_size) + ")");
  }

  /// Selects the batch of `step`.
  void next_batch(std::uint64_t step) {
    const std::uint64_t per_epoch = n_ / b_, epoch = step / per_epoch, pos = step % per_epoch;
    if (epoch != epoch_) shuffle(epoch);
    for (std::size_t i = 0; i < b_; ++i) batch_[i] = perm_[pos * b_ + i];
  }

  /// The loss on the step's batch: a double, or whatever the loss returns on duals (forward-grad).
  template <class P>
  auto operator()(P& params) {
    if constexpr (requires { loss_(params, batch()); }) {
      if constexpr (is_dual<std::remove_cvref_t<decltype(loss_(params, batch()))>>::value)
        return loss_(params, batch());
      else
        return static_cast<double>(loss_(params, batch()));
    } else {
      return static_cast<double>(loss_(batch()));
    }
  }

  std::span<const std::size_t> batch() const noexcept { return batch_; }

 private:
  void shuffle(std::uint64_t epoch) {
    std::iota(perm_.begin(), perm_.end(), std::size_t{0});
    for (std::size_t i = n_; i > 1; --i) {  // Fisher-Yates with counter-based randomness
      const auto w = random::philox(seed_, static_cast<std::uint32_t>(epoch), i, Stream::sampling);
      const std::uint64_t r = (std::uint64_t(w[1]) << 32) | w[0];
      const auto j = static_cast<std::size_t>(r % i);  // bias below i / 2^64
      std::swap(perm_[i - 1], perm_[j]);
    }
    epoch_ = epoch;
  }

  Loss loss_;
  std::size_t n_, b_;
  std::uint64_t seed_, epoch_ = ~std::uint64_t{0};
  std::vector<std::size_t> perm_, batch_;
};

}  // namespace zeroth
