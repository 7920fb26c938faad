#pragma once
// ZO-SGD-MMT: heavy-ball momentum on the ZO estimate, fused into the update sweep (no gradient buffer).
#include <cstddef>

#include "zeroth/preconditioners/fused_update.hpp"

namespace zeroth {

/// m <- beta m + g-hat; x <- (1 - lr wd) x - lr m. State: m in float32, 4 bytes per trainable parameter.
///   zeroth::ZOSGDMomentum opt({.learning_rate = 1e-4}, {}, zeroth::Momentum({.beta = 0.9}));
class Momentum {
 public:
  static constexpr const char* name = "momentum";
  struct Options {
    double beta = 0.9;
  };

  Momentum() = default;
  explicit Momentum(Options o) : o_(o) {
    detail::check_option(o_.beta >= 0.0 && o_.beta < 1.0, "Momentum::Options::beta", "in [0, 1)", o_.beta);
  }

  void prepare(const BufferStore& store) { m_.prepare(store, 1); }

  SweepStats update(UpdateContext& c) {
    const FusedPlan p = gradient_plan(c);
    const double lr = c.learning_rate, shrink = 1.0 - lr * c.weight_decay;
    return fused_sweep(
        c.store, c.snapshot, p,
        [&](std::uint32_t b, bool decay, std::size_t i, auto x0, auto u) {
          using C = decltype(x0);
          float& m = m_.block(b)[i];
          m = static_cast<float>(static_cast<C>(o_.beta) * m + u);
          return (decay ? static_cast<C>(shrink) : C(1)) * x0 - static_cast<C>(lr) * static_cast<C>(m);
        },
        c.threads);
  }

  /// The momentum buffer m of block b (for inspection and tests).
  const float* momentum(std::size_t b) const noexcept { return m_.block(b); }
  std::size_t state_bytes() const noexcept { return m_.bytes(); }
  void save_state(io::Writer& w) const { m_.save(w); }
  void load_state(io::Reader& r, const BufferStore& store) { m_.load(r, store, 1, name); }

 private:
  Options o_{};
  ElementState m_;
};

}  // namespace zeroth
