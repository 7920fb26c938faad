#pragma once
// ZO-SGD-MMT: heavy-ball momentum on the ZO estimate, fused into the update sweep (no gradient buffer).
#include <cstddef>

#include "zeroth/core/exact_math.hpp"
#include "zeroth/preconditioners/fused_update.hpp"

namespace zeroth {

namespace detail {
/// Momentum's per-element step, for host and device (zeroth/cuda/fused.cuh): m <- beta m + u;
/// x <- shrink x0 - lr m (shrink only for decay blocks). State: s[0] = m.
template <class C>
struct MomentumElement {
  static constexpr unsigned per = 1;
  C beta, shrink, lr;
  ZEROTH_HOST_DEVICE C operator()(bool decay, C x0, C u, float* s) const {
    s[0] = static_cast<float>(exact::fma(beta, static_cast<C>(s[0]), u));
    return exact::fma(decay ? shrink : C(1), x0, -exact::mul(lr, static_cast<C>(s[0])));
  }
};
}  // namespace detail

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
    const auto ef = element<float>(o_, c.learning_rate, c.weight_decay);
    const auto ed = element<double>(o_, c.learning_rate, c.weight_decay);
    return fused_update(c, p, m_, ef, ed);
  }

  /// The per-element step of one update in arithmetic type C (float, or double for float64 blocks).
  template <class C>
  static detail::MomentumElement<C> element(const Options& o, double lr, double weight_decay) {
    return {static_cast<C>(o.beta), static_cast<C>(1.0 - lr * weight_decay), static_cast<C>(lr)};
  }
  const Options& options() const noexcept { return o_; }

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
