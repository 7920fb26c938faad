#pragma once
// HiZOO's diagonal Hessian: perturbations scaled by H^{-1/2}, H smoothed from the three-point curvature.
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "zeroth/core/exact_math.hpp"
#include "zeroth/preconditioners/fused_update.hpp"

namespace zeroth {

namespace detail {
/// HiZOO's per-element step, for host and device (zeroth/cuda/fused.cuh), with u = n z. State: s[0] = H^{-1/2}, which
/// also scales the perturbation (the plan's back term). H_new = H (1 - a + a kappa z^2), so
/// H_new^{-1/2} = s / sqrt(1 - a + a kappa z^2); x <- shrink x0 - lr g s_new z.
template <class C>
struct DiagonalHessianElement {
  static constexpr unsigned per = 1;
  C one_minus_alpha, alpha_kappa, shrink, lr_g;
  bool calibrate = false;  // the first update: H := kappa on every element, perturbed or not
  ZEROTH_HOST_DEVICE C operator()(bool decay, C x0, C z, float* s) const {
    const C k = decay ? shrink : C(1);
    if (z == C(0) && !calibrate) return exact::mul(k, x0);  // masked out: H stays
    const C sn = exact::div(static_cast<C>(s[0]), exact::sqrt(exact::fma(exact::mul(alpha_kappa, z), z, one_minus_alpha)));
    s[0] = static_cast<float>(sn);
    return exact::fma(k, x0, -exact::mul(exact::mul(lr_g, static_cast<C>(s[0])), z));
  }
};
}  // namespace detail

/// With kappa = |l+ + l- - 2 l0| / (2 eps^2) from ThreePointRGE (points x0 +- eps H^{-1/2} z):
/// H <- (1 - alpha) H + alpha kappa H z^2; x <- (1 - lr wd) x - lr g H^{-1/2} z with the updated H.
/// State: s = H^{-1/2} in float32 (H = 1 initially), 4 bytes per trainable parameter.
/// Calibration (Options::calibrate, on by default): the first update (step 0) sets H := kappa on every element instead,
/// the scale H settles at (the update keeps E[kappa z^2] near 1). From H = 1 it would grow by about kappa ~ d h / 2
/// per element in the first steps, so that a constant learning rate that suits the settled H diverges at the start
/// (HiZOO's paper warms up by hand). Calibrated, the step is about lr H^{-1} grad with H ~ (d/2) mean(h): on
/// quadratics with d = 10^2 to 10^4 and curvature spreads of 10^2 to 10^3, lr = 0.1 converges from step 0 (the loss
/// at most 10x its start while H learns the stiff coordinates), 0.3 mostly, 1 diverges; uncalibrated, all three
/// diverge (tests/core/test_preconditioners.cpp).
///   zeroth::HiZOO opt({.learning_rate = 0.1, .epsilon = 1e-3}, {}, zeroth::DiagonalHessian({.alpha = 1e-2}));
class DiagonalHessian {
 public:
  static constexpr const char* name = "diag_hessian";
  static constexpr bool needs_curvature = true;
  struct Options {
    /// Smoothing of H per step (HiZOO's public code defaults to 0, which never adapts). H learns its per-coordinate
    /// shape at a rate of about 2 alpha / (d + 2) per step against a log-variance of about alpha (d + 2) / 2, so it
    /// pays off when runs are long compared with d / alpha; 1e-2 is the best of {1e-3, 3e-3, 1e-2, 3e-2, 0.1} on the
    /// test problems (d = 20 to 200, curvature spread 1e2 to 1e4).
    double alpha = 1e-2;
    /// H := kappa at the first update (step 0), on every element; false: H = 1 then, as HiZOO's code.
    bool calibrate = true;
  };

  DiagonalHessian() = default;
  explicit DiagonalHessian(Options o) : o_(o) {
    detail::check_option(o_.alpha >= 0.0 && o_.alpha <= 1.0, "DiagonalHessian::Options::alpha", "in [0, 1]", o_.alpha);
  }
  DiagonalHessian(const DiagonalHessian& o) : o_(o.o_), s_(o.s_) { bind(); }
  DiagonalHessian& operator=(const DiagonalHessian& o) {
    o_ = o.o_;
    s_ = o.s_;
    bind();
    return *this;
  }

  void prepare(const BufferStore& store) {
    s_.prepare(store, 1, 1.0f);
    bind();
  }

  /// H^{-1/2} per trainable block: the sweeps multiply every direction term by it.
  std::span<const float* const> direction_scale() const noexcept { return ptrs_; }

  SweepStats update(UpdateContext& c) {
    const FusedPlan p = plan(c, ptrs_);
    const auto ef = element<float>(o_, c);
    const auto ed = element<double>(o_, c);
    return fused_update(c, p, s_, ef, ed);
  }

  /// The update's fused plan: u = n z, and x0 = source - offset s z (s = `back_scale`, H^{-1/2} before the update).
  template <class Context>
  static FusedPlan plan(Context& c, std::span<const float* const> back_scale) {
    if (c.seeds.size() != 1 || c.g.size() < 2)
      throw std::logic_error("zeroth: DiagonalHessian needs one direction and a curvature scalar (ThreePointRGE)");
    c.scratch_a[0] = c.norms[0];
    c.scratch_b[0] = c.from_snapshot ? 0.0 : -c.offset[0];
    return {.kind = c.direction,
            .seeds = c.seeds,
            .coeff = c.scratch_a.first(1),
            .back = c.from_snapshot ? std::span<const double>{} : std::span<const double>(c.scratch_b.first(1)),
            .back_scale = back_scale,
            .from_snapshot = c.from_snapshot,
            .rounding = c.rounding,
            .rounding_seed = c.rounding_seed,
            .active = c.active,
            .mask = c.mask,
            .bounded = true};
  }

  /// The per-element step of one update in arithmetic type C, from the context's g = (g, kappa).
  template <class C, class Context>
  static detail::DiagonalHessianElement<C> element(const Options& o, const Context& c) {
    const double lr = c.learning_rate, a = o.alpha, kappa = std::abs(c.g[1]);
    // Calibrating, s / sqrt(kappa + 0 z^2) = kappa^{-1/2} from s = 1 (a zero kappa leaves H at 1).
    const bool calibrate = o.calibrate && c.step == 0 && kappa > 0 && std::isfinite(kappa);
    return {static_cast<C>(calibrate ? kappa : 1.0 - a), static_cast<C>(calibrate ? 0.0 : a * kappa),
            static_cast<C>(1.0 - lr * c.weight_decay), static_cast<C>(lr * c.g[0]), calibrate};
  }
  const Options& options() const noexcept { return o_; }

  /// H^{-1/2} of block b (H = 1 / s^2).
  const float* inverse_sqrt_hessian(std::size_t b) const noexcept { return s_.block(b); }
  std::size_t state_bytes() const noexcept { return s_.bytes(); }
  void save_state(io::Writer& w) const { s_.save(w); }
  void load_state(io::Reader& r, const BufferStore& store) {
    s_.load(r, store, 1, name);
    bind();
  }

 private:
  void bind() {
    ptrs_.assign(s_.blocks(), nullptr);
    for (std::size_t b = 0; b < ptrs_.size(); ++b) ptrs_[b] = s_.block(b);
  }

  Options o_{};
  ElementState s_;
  std::vector<const float*> ptrs_;
};

}  // namespace zeroth
