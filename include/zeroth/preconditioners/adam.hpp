#pragma once
// ZO-Adam: Adam's moments on the ZO estimate with bias correction, fused into the update sweep (no gradient buffer).
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "zeroth/core/exact_math.hpp"
#include "zeroth/preconditioners/fused_update.hpp"

namespace zeroth {

namespace detail {
/// Adam's per-element step, for host and device (zeroth/cuda/fused.cuh). State: s[0] = m, s[1] = v.
template <class C>
struct AdamElement {
  static constexpr unsigned per = 2;
  C beta1, one_minus_beta1, beta2, one_minus_beta2, rbc2, epsilon, shrink, step;
  ZEROTH_HOST_DEVICE C operator()(bool decay, C x0, C u, float* s) const {
    const C m = exact::fma(beta1, static_cast<C>(s[0]), exact::mul(one_minus_beta1, u));
    const C v = exact::fma(beta2, static_cast<C>(s[1]), exact::mul(exact::mul(one_minus_beta2, u), u));
    s[0] = static_cast<float>(m);
    s[1] = static_cast<float>(v);
    const C den = exact::fma(exact::sqrt(static_cast<C>(s[1])), rbc2, epsilon);
    return exact::fma(decay ? shrink : C(1), x0, -exact::div(exact::mul(step, static_cast<C>(s[0])), den));
  }
};
}  // namespace detail

/// m <- b1 m + (1 - b1) g-hat; v <- b2 v + (1 - b2) g-hat^2; x <- (1 - lr wd) x - lr m^ / (sqrt(v^) + eps) with
/// m^ = m / (1 - b1^t), v^ = v / (1 - b2^t). State: m and v in float32, 8 bytes per trainable parameter.
///   zeroth::ZOAdam opt({.learning_rate = 1e-3}, {}, zeroth::Adam({.beta1 = 0.9, .beta2 = 0.999}));
class Adam {
 public:
  static constexpr const char* name = "adam";
  struct Options {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double epsilon = 1e-8;  ///< added to sqrt(v^)
  };

  Adam() = default;
  explicit Adam(Options o) : o_(o) {
    detail::check_option(o_.beta1 >= 0.0 && o_.beta1 < 1.0, "Adam::Options::beta1", "in [0, 1)", o_.beta1);
    detail::check_option(o_.beta2 >= 0.0 && o_.beta2 < 1.0, "Adam::Options::beta2", "in [0, 1)", o_.beta2);
    detail::check_option(o_.epsilon > 0.0 && std::isfinite(o_.epsilon), "Adam::Options::epsilon", "finite and > 0",
                         o_.epsilon);
  }

  void prepare(const BufferStore& store) {
    if (!mv_.matches(store, 2)) t_ = 0;
    mv_.prepare(store, 2);
  }

  SweepStats update(UpdateContext& c) {
    const FusedPlan p = gradient_plan(c);
    ++t_;
    const auto ef = element<float>(o_, c.learning_rate, c.weight_decay, t_);
    const auto ed = element<double>(o_, c.learning_rate, c.weight_decay, t_);
    return fused_update(c, p, mv_, ef, ed);
  }

  /// The per-element step of update number t (1 for the first) in arithmetic type C.
  template <class C>
  static detail::AdamElement<C> element(const Options& o, double lr, double weight_decay, std::uint64_t t) {
    const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(t));
    const double rbc2 = 1.0 / std::sqrt(1.0 - std::pow(o.beta2, static_cast<double>(t)));
    const double step = lr / bc1;  // x -= step m / (sqrt(v) / sqrt(bc2) + eps)
    return {static_cast<C>(o.beta1), static_cast<C>(1.0 - o.beta1), static_cast<C>(o.beta2),
            static_cast<C>(1.0 - o.beta2), static_cast<C>(rbc2), static_cast<C>(o.epsilon),
            static_cast<C>(1.0 - lr * weight_decay), static_cast<C>(step)};
  }
  const Options& options() const noexcept { return o_; }

  /// Updates applied so far (t of the bias correction).
  std::uint64_t updates() const noexcept { return t_; }
  /// (m, v) of element i of block b, interleaved.
  const float* moments(std::size_t b) const noexcept { return mv_.block(b); }
  std::size_t state_bytes() const noexcept { return mv_.bytes(); }
  void save_state(io::Writer& w) const {
    w.put(t_);
    mv_.save(w);
  }
  void load_state(io::Reader& r, const BufferStore& store) {
    const auto t = r.get<std::uint64_t>("adam step count");
    mv_.load(r, store, 2, name);
    t_ = t;
  }

 private:
  Options o_{};
  ElementState mv_;
  std::uint64_t t_ = 0;
};

}  // namespace zeroth
