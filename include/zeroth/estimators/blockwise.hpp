#pragma once
// Block-wise RGE (ZO-Bench): each direction perturbs one group of store blocks, 2 evaluations per group, with an
// independent direction per block (the block index is part of every Philox counter, so equal-shaped blocks differ).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/random/direction.hpp"
#include "zeroth/stores/buffer_store.hpp"
#include "zeroth/sweeps/mask.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// Per step, `per_step` distinct groups (cyclic: groups t*per_step .. t*per_step + per_step - 1 mod G; random: the
/// first per_step of a permutation keyed by (seed, step)); direction k is z_k restricted to its group, with
/// g_k = (L(x + eps z_k) - L(x - eps z_k)) / (2 eps), and g-hat = sum_k g_k z_k (each group gets its own estimate; no
/// 1/q). Fair comparison: per_step = q spends 2q evaluations per step, as RGE with q full directions does.
/// Groups default to one per trainable block (a store with a single trainable block is refused: that would be RGE).
/// State: q x blocks flags; no per-parameter memory.
///   zeroth::ZOSGDBlockwise opt({.learning_rate = 1e-3}, zeroth::BlockwiseRGE({.order = zeroth::BlockOrder::random}));
enum class BlockOrder { cyclic, random };

class BlockwiseRGE {
 public:
  struct Options {
    int per_step = 1;                             ///< groups perturbed per step (the directions q)
    BlockOrder order = BlockOrder::cyclic;
    Direction direction = Direction::gaussian;    ///< gaussian or rademacher
    std::vector<std::vector<std::string>> groups{};  ///< block names per group; empty: one group per trainable block
  };

  BlockwiseRGE() = default;
  explicit BlockwiseRGE(Options o) : o_(std::move(o)) {
    if (o_.per_step < 1 || o_.per_step > static_cast<int>(kMaxSweepTerms))
      throw std::invalid_argument("zeroth: 'BlockwiseRGE::Options::per_step' must be in [1, " +
                                  std::to_string(kMaxSweepTerms) + "] (got " + std::to_string(o_.per_step) + ")");
    if (o_.direction == Direction::sphere)
      throw std::invalid_argument("zeroth: 'BlockwiseRGE::Options::direction' must be gaussian or rademacher (a sphere "
                                  "direction is normalised over the whole store)");
  }

  int directions() const noexcept { return o_.per_step; }
  int evaluations() const noexcept { return 2 * o_.per_step; }
  Direction direction() const noexcept { return o_.direction; }
  bool one_sided() const noexcept { return false; }

  void point(int j, std::span<double> offset) const noexcept {
    std::fill(offset.begin(), offset.end(), 0.0);
    offset[j / 2] = (j % 2 == 0) ? 1.0 : -1.0;
  }

  void estimate(std::span<const double> loss, double eps, std::span<double> g) const noexcept {
    for (int k = 0; k < o_.per_step; ++k) g[k] = (loss[2 * k] - loss[2 * k + 1]) / (2.0 * eps);
  }

  /// Resolves the groups against the store (once, when a run binds the estimator).
  void prepare(const BufferStore& store) {
    blocks_ = store.blocks().size();
    members_.clear();
    if (o_.groups.empty()) {
      for (std::uint32_t b = 0; b < blocks_; ++b)
        if (store.blocks()[b].flags.trainable && store.blocks()[b].size > 0) members_.push_back({b});
    } else {
      for (const auto& names : o_.groups) {
        std::vector<std::uint32_t> g;
        for (const auto& n : names) {
          std::uint32_t b = 0;
          while (b < blocks_ && store.blocks()[b].name != n) ++b;
          if (b == blocks_) throw std::invalid_argument("zeroth: BlockwiseRGE group names no block '" + n + "'");
          g.push_back(b);
        }
        members_.push_back(std::move(g));
      }
    }
    if (o_.groups.empty() && members_.size() == 1)
      throw std::invalid_argument("zeroth: BlockwiseRGE over a single block perturbs every parameter each step (it "
                                  "would be RGE with extra bookkeeping): split the parameters into blocks (Options::"
                                  "blocks for a flat buffer, or more store blocks), or use RGE");
    if (members_.size() < static_cast<std::size_t>(o_.per_step))
      throw std::invalid_argument("zeroth: 'BlockwiseRGE::Options::per_step' (" + std::to_string(o_.per_step) +
                                  ") exceeds the number of groups (" + std::to_string(members_.size()) + ")");
    active_.assign(static_cast<std::size_t>(o_.per_step) * blocks_, 0);
    chosen_.assign(static_cast<std::size_t>(o_.per_step), 0);
  }

  /// Picks the step's groups.
  void begin_step(const BufferStore&, std::uint64_t run_seed, std::uint64_t step) {
    const std::uint64_t G = members_.size(), q = static_cast<std::uint64_t>(o_.per_step);
    const random::KeyedPermutation perm(random::step_seed(run_seed, step, 0x424C4B53u), G);
    std::fill(active_.begin(), active_.end(), 0);
    for (std::uint64_t k = 0; k < q; ++k) {
      chosen_[k] = o_.order == BlockOrder::cyclic ? static_cast<std::uint32_t>((step * q + k) % G)
                                                  : static_cast<std::uint32_t>(perm(k));
      for (std::uint32_t b : members_[chosen_[k]]) active_[k * blocks_ + b] = 1;
    }
  }

  DirectionMasks masks() const noexcept { return {.active = active_, .sum_terms = true}; }

  /// The group direction k perturbs this step, and the number of groups.
  std::uint32_t group(int k) const noexcept { return chosen_[static_cast<std::size_t>(k)]; }
  std::size_t groups() const noexcept { return members_.size(); }
  const Options& options() const noexcept { return o_; }

 private:
  Options o_{};
  std::size_t blocks_ = 0;
  std::vector<std::vector<std::uint32_t>> members_;
  std::vector<std::uint8_t> active_;
  std::vector<std::uint32_t> chosen_;
};

}  // namespace zeroth
