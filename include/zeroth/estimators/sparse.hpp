#pragma once
// Sparse perturbations: any estimator whose directions are masked, z <- m ⊙ z, in the perturbation and update sweeps
// alike. Masks: random with an exact count per block (regenerated from a seed, no per-element storage), the
// small-magnitude weights of each block (Sparse MeZO), or a static set chosen once from a score (SensZOQ).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/random/direction.hpp"
#include "zeroth/random/philox.hpp"
#include "zeroth/stores/buffer_store.hpp"
#include "zeroth/sweeps/mask.hpp"

namespace zeroth {

namespace detail {

inline void check_ratio(double r, const char* field) {
  if (!(r >= 0.0 && r <= 1.0))
    throw std::invalid_argument(std::string("zeroth: '") + field + "' must be in [0, 1] (got " + std::to_string(r) + ")");
}

inline void check_period(std::uint64_t p, const char* field) {
  if (p == 0) throw std::invalid_argument(std::string("zeroth: '") + field + "' must be >= 1 (got 0)");
}

/// round(ratio * n), the exact count a mask keeps in a block of n.
inline std::uint64_t kept_count(double ratio, std::uint64_t n) {
  return std::min<std::uint64_t>(n, static_cast<std::uint64_t>(std::llround(ratio * static_cast<double>(n))));
}

/// Element i of a block as a float, whatever its dtype.
inline float element_value(const Block& b, std::size_t i) {
  switch (b.dtype) {
    case DType::f32: return static_cast<const float*>(b.data)[i];
    case DType::f64: return static_cast<float>(static_cast<const double*>(b.data)[i]);
    case DType::bf16: return to_float(static_cast<const bfloat16*>(b.data)[i]);
    case DType::f16: return to_float(static_cast<const float16*>(b.data)[i]);
  }
  return 0.0f;
}

/// Sets exactly k bits of `bits` (n elements): the k smallest keys, ties broken by index. `key` is overwritten.
inline void select_smallest(std::span<float> key, std::uint64_t k, std::uint64_t* bits, std::span<float> scratch) {
  const std::size_t n = key.size();
  std::fill(bits, bits + (n + 63) / 64, std::uint64_t{0});
  if (k == 0) return;
  std::copy(key.begin(), key.end(), scratch.begin());
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k - 1), scratch.begin() + n);
  const float thr = scratch[k - 1];
  std::uint64_t taken = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (key[i] < thr) bits[i / 64] |= std::uint64_t{1} << (i % 64), ++taken;
  for (std::size_t i = 0; i < n && taken < k; ++i)
    if (key[i] == thr) bits[i / 64] |= std::uint64_t{1} << (i % 64), ++taken;
}

/// One bit per element of each trainable block (null pointers for frozen ones), plus scratch for the selection.
struct BitMask {
  std::vector<std::vector<std::uint64_t>> words;
  std::vector<const std::uint64_t*> ptrs;
  std::vector<float> key, scratch;

  void prepare(const BufferStore& store) {
    words.assign(store.blocks().size(), {});
    ptrs.assign(store.blocks().size(), nullptr);
    std::size_t largest = 0;
    for (std::size_t b = 0; b < words.size(); ++b) {
      const Block& blk = store.blocks()[b];
      if (!blk.flags.trainable) continue;
      words[b].assign((blk.size + 63) / 64 + 1, 0);
      ptrs[b] = words[b].data();
      largest = std::max(largest, blk.size);
    }
    key.assign(largest, 0.0f);
    scratch.assign(largest, 0.0f);
  }

  /// Keeps round(ratio n) elements of each trainable block: those with the smallest key(block, i, x_i).
  template <class Key>
  void select(const BufferStore& store, double ratio, Key&& keyf) {
    for (std::uint32_t b = 0; b < words.size(); ++b) {
      const Block& blk = store.blocks()[b];
      if (!blk.flags.trainable || blk.size == 0) continue;
      for (std::size_t i = 0; i < blk.size; ++i) key[i] = keyf(b, i, element_value(blk, i));
      select_smallest(std::span<float>(key).first(blk.size), kept_count(ratio, blk.size), words[b].data(), scratch);
    }
  }

  ElementMask view() const noexcept { return {.bits = ptrs}; }
  std::size_t bytes() const noexcept {
    std::size_t n = 0;
    for (const auto& w : words) n += w.size() * sizeof(std::uint64_t);
    return n;
  }
};

template <class B>
concept HasCurvature = requires { B::reports_curvature; };
template <class B>
concept HasForwardMode = requires { B::forward_mode; };
template <class B, bool = HasCurvature<B>>
struct CurvatureTag {};
template <class B>
struct CurvatureTag<B, true> {
  static constexpr bool reports_curvature = true;
};
template <class B, bool = HasForwardMode<B>>
struct ForwardTag {};
template <class B>
struct ForwardTag<B, true> {
  static constexpr bool forward_mode = true;
};

}  // namespace detail

/// A random mask with exactly round(ratio n_b) elements per block b (ZO-Bench's code keeps Phi(ratio) instead): element
/// i is kept iff perm_b(i) < round(ratio n_b), perm_b a keyed bijection of [0, n_b) keyed by Philox on the mask stream
/// from (run seed, step / period, b). Regenerated in every sweep from the seed: 16 bytes per block, none per element.
///   zeroth::Sparse<zeroth::RGE, zeroth::RandomMask> est(zeroth::RandomMask({.ratio = 0.1, .period = 10}));
class RandomMask {
 public:
  struct Options {
    double ratio = 0.1;          ///< fraction of each block perturbed
    std::uint64_t period = 1;    ///< a new mask every `period` steps
  };
  RandomMask() = default;
  explicit RandomMask(Options o) : o_(o) {
    detail::check_ratio(o_.ratio, "RandomMask::Options::ratio");
    detail::check_period(o_.period, "RandomMask::Options::period");
  }

  void prepare(const BufferStore& store) {
    size_.assign(store.blocks().size(), 0);
    keep_.assign(store.blocks().size(), 0);
    for (std::size_t b = 0; b < size_.size(); ++b) {
      size_[b] = store.blocks()[b].size;
      keep_[b] = detail::kept_count(o_.ratio, size_[b]);
    }
  }
  void begin_step(const BufferStore&, std::uint64_t run_seed, std::uint64_t step) {
    seed_ = random::step_seed(run_seed, step / o_.period, 0x4D41534Bu);
  }
  ElementMask view() const noexcept { return {.seed = seed_, .keep = keep_, .size = size_}; }
  /// The mask's seed this step (a pure function of the run seed and step / period).
  std::uint64_t seed() const noexcept { return seed_; }
  std::size_t state_bytes() const noexcept { return (size_.size() + keep_.size()) * sizeof(std::uint64_t); }

 private:
  Options o_{};
  std::vector<std::uint64_t> size_, keep_;
  std::uint64_t seed_ = 0;
};

/// Sparse MeZO: per block, the round(ratio n) weights of smallest magnitude (ties by index), chosen from x at the
/// start of every `period`-th step (and at a run's first step). 1 bit per parameter, plus 8 bytes per element of the
/// largest block as selection scratch.
class MagnitudeMask {
 public:
  struct Options {
    double ratio = 0.1;
    std::uint64_t period = 1;
  };
  MagnitudeMask() = default;
  explicit MagnitudeMask(Options o) : o_(o) {
    detail::check_ratio(o_.ratio, "MagnitudeMask::Options::ratio");
    detail::check_period(o_.period, "MagnitudeMask::Options::period");
  }

  void prepare(const BufferStore& store) {
    bits_.prepare(store);
    chosen_ = false;
  }
  void begin_step(const BufferStore& store, std::uint64_t, std::uint64_t step) {
    if (chosen_ && step % o_.period != 0) return;
    bits_.select(store, o_.ratio, [](std::uint32_t, std::size_t, float x) { return std::abs(x); });
    chosen_ = true;
  }
  ElementMask view() const noexcept { return bits_.view(); }
  std::size_t state_bytes() const noexcept { return bits_.bytes() + 4 * (bits_.key.size() + bits_.scratch.size()); }

 private:
  Options o_{};
  detail::BitMask bits_;
  bool chosen_ = false;
};

/// SensZOQ: a static set of "sensitive" coordinates, the round(ratio n) highest scores of each block, chosen once at
/// the first step of the first run and kept for the optimizer's lifetime (copies share it). The score defaults to
/// |x|; pass e.g. accumulated squared gradients. 1 bit per parameter (plus selection scratch of the largest block).
///   zeroth::SensitiveMask({.ratio = 1e-3, .score = [&](std::uint32_t b, std::size_t i, float) { return g2[b][i]; }})
class SensitiveMask {
 public:
  struct Options {
    double ratio = 1e-3;
    std::function<float(std::uint32_t block, std::size_t index, float x)> score{};  ///< empty: |x|
  };
  SensitiveMask() : SensitiveMask(Options{}) {}
  explicit SensitiveMask(Options o) : o_(std::move(o)), bits_(std::make_shared<detail::BitMask>()) {
    detail::check_ratio(o_.ratio, "SensitiveMask::Options::ratio");
  }

  void prepare(const BufferStore& store) {
    if (bits_->words.size() != store.blocks().size()) {
      bits_->prepare(store);
      *chosen_ = false;
    }
  }
  void begin_step(const BufferStore& store, std::uint64_t, std::uint64_t) {
    if (*chosen_) return;
    bits_->select(store, o_.ratio, [&](std::uint32_t b, std::size_t i, float x) {
      return -(o_.score ? o_.score(b, i, x) : std::abs(x));  // the largest scores have the smallest keys
    });
    *chosen_ = true;
  }
  ElementMask view() const noexcept { return bits_->view(); }
  std::size_t state_bytes() const noexcept { return bits_->bytes() + 4 * (bits_->key.size() + bits_->scratch.size()); }

 private:
  Options o_;
  std::shared_ptr<detail::BitMask> bits_;
  std::shared_ptr<bool> chosen_ = std::make_shared<bool>(false);
};

/// A mask policy: per-store preparation, a per-step choice, and the ElementMask view the sweeps apply.
template <class M>
concept MaskPolicy = requires(M m, const M cm, const BufferStore& s, std::uint64_t u) {
  m.prepare(s);
  m.begin_step(s, u, u);
  { cm.view() } -> std::same_as<ElementMask>;
};

/// Estimator `Base` with its directions masked by `Mask`: the same evaluations and scalars, z <- m ⊙ z in every sweep
/// (so the update touches only the masked coordinates too; stateful rules still decay their state elsewhere).
///   using SparseMeZO = zeroth::Optimizer<zeroth::Sparse<zeroth::RGE, zeroth::MagnitudeMask>>;
template <class Base, class Mask>
class Sparse : public detail::CurvatureTag<Base>, public detail::ForwardTag<Base> {
  static_assert(MaskPolicy<Mask>, "zeroth: a mask needs prepare(store), begin_step(store, seed, step) and "
                                  "'ElementMask view() const'");

 public:
  Sparse() : Sparse(Mask{}, Base{}) {}
  explicit Sparse(Mask mask) : Sparse(std::move(mask), Base{}) {}
  Sparse(Mask mask, Base base) : base_(std::move(base)), mask_(std::move(mask)) {
    if (base_.direction() == Direction::sphere)
      throw std::invalid_argument("zeroth: a sparse estimator needs gaussian or rademacher directions (a sphere "
                                  "direction is normalised over every element)");
  }

  int directions() const noexcept { return base_.directions(); }
  int evaluations() const noexcept { return base_.evaluations(); }
  Direction direction() const noexcept { return base_.direction(); }
  int scalars() const noexcept {
    if constexpr (requires { base_.scalars(); })
      return base_.scalars();
    else
      return base_.directions();
  }
  bool one_sided() const noexcept {
    if constexpr (requires { base_.one_sided(); })
      return base_.one_sided();
    else
      return false;
  }
  void point(int j, std::span<double> offset) const { base_.point(j, offset); }
  void estimate(std::span<const double> loss, double eps, std::span<double> g) const { base_.estimate(loss, eps, g); }

  void prepare(const BufferStore& store) {
    if constexpr (requires { base_.prepare(store); }) base_.prepare(store);
    mask_.prepare(store);
  }
  void begin_step(const BufferStore& store, std::uint64_t run_seed, std::uint64_t step) {
    if constexpr (requires { base_.begin_step(store, run_seed, step); }) base_.begin_step(store, run_seed, step);
    mask_.begin_step(store, run_seed, step);
  }
  DirectionMasks masks() const {
    DirectionMasks m;
    if constexpr (requires { base_.masks(); }) m = base_.masks();
    m.mask = mask_.view();
    return m;
  }

  const Base& base() const noexcept { return base_; }
  const Mask& mask() const noexcept { return mask_; }

 private:
  Base base_;
  Mask mask_;
};

}  // namespace zeroth
