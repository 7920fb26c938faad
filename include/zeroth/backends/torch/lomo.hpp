#pragma once
// LOMO (Lv et al. 2023): SGD fused into the backward pass. Each parameter is updated as soon as its gradient is
// complete and the gradient released, so a step holds at most one parameter's gradient beyond inference and the
// activations. Optional gradient-norm clipping (LOMO's two passes: the first only takes the norm), value clipping,
// and loss scaling for 16-bit weights.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "zeroth/backends/torch/checkpoint.hpp"
#include "zeroth/backends/torch/fused_backward.hpp"
#include "zeroth/backends/torch/parameters.hpp"
#include "zeroth/optimizer/result.hpp"

namespace zeroth::libtorch {

/// What one first-order step did. A non-finite loss moves nothing and says so in `status`; so does a non-finite
/// gradient where a checking pass ran first (Backprop always; Lomo and AdaLomo with check_finite, clipping or loss
/// scaling: in one pass, the tensors updated before the bad gradient stay updated).
struct FirstOrderStep {
  double loss = 0;                 ///< the step's loss, unscaled
  Status status = Status::running;  ///< running, non_finite_loss or non_finite_gradient
  double grad_norm = std::numeric_limits<double>::quiet_NaN();  ///< the gradient's norm, when a first pass took it
  bool skipped = false;            ///< dynamic loss scaling saw an overflow: nothing moved and the scale halved
  double loss_scale = 1;           ///< the scale the step used
  bool ok() const noexcept { return status == Status::running; }
};

namespace detail {
inline void check_fo_option(bool ok, const char* name, const char* want, double got) {
  if (!ok)
    throw std::invalid_argument(std::string("zeroth: ") + name + " must be " + want + " (got " + std::to_string(got) +
                                ")");
}

/// The checking pass LOMO and AdaLomo share: per-parameter squared norms (summed in parameter order) and whether
/// every gradient is finite, from a backward pass that keeps the graph for the updating one.
struct GradientCheck {
  double norm = 0;
  bool finite = true;
};
inline GradientCheck check_gradients(FusedBackward& fused, const torch::Tensor& loss) {
  std::vector<double> squares(fused.parameters().size(), 0.0);
  bool finite = true;
  fused.run(
      loss,
      [&](std::size_t i, const torch::Tensor& g) {
        const double n = g.norm(2).item<double>();
        squares[i] = n * n;
        finite = finite && std::isfinite(n);
      },
      /*retain_graph=*/true);
  double sum = 0;
  for (double s : squares) sum += s;
  return {std::sqrt(sum), finite};
}
}  // namespace detail

/// LOMO's options. With clip_grad_norm > 0, loss scaling or check_finite, a first backward pass takes the norm and
/// checks every gradient before any parameter moves (LOMO's two passes); otherwise one pass does everything.
struct LomoOptions {
  double learning_rate = 1e-3;
  double weight_decay = 0;        ///< as torch::optim::SGD: g + wd p (on tensors that decay: see Lomo's decay_rule)
  double clip_grad_norm = 0;      ///< > 0: gradients scaled by min(1, c / (norm + 1e-6)) (torch's clip_grad_norm_)
  double clip_grad_value = 0;     ///< > 0: each element clamped to [-v, v] (one pass)
  bool check_finite = false;      ///< a first pass checks the gradients: a NaN or infinity then moves nothing
  double loss_scale = 1;          ///< the loss is multiplied by this before back-propagation, gradients divided
  bool dynamic_loss_scale = false;  ///< halve the scale on overflow (the step skipped), double it after
  int scale_window = 1000;          ///< ... this many steps without one
};

/// SGD fused into back-propagation. After N steps the parameters are the bits of torch::optim::SGD with the same
/// gradients (clipped as clip_grad_norm_ with the norm summed in parameter order). Weight decay applies to the tensors
/// `decay_rule` says decay (by default every one but biases and norms, as Hugging Face's Trainer).
///   zeroth::libtorch::Lomo lomo(model.trainable_parameters(), {.learning_rate = 1e-3});
///   auto s = lomo.step([&] { return model.loss_tensor(batch); });
class Lomo {
 public:
  Lomo(std::vector<NamedTensor> parameters, LomoOptions o = {}, const ParameterSelection& decay_rule = {})
      : o_(o), fused_(parameters) {
    for (const auto& p : parameters) decays_.push_back(decay_rule.decays(p.first));
    using detail::check_fo_option;
    check_fo_option(std::isfinite(o_.learning_rate) && o_.learning_rate >= 0, "LomoOptions::learning_rate",
                    "finite and >= 0", o_.learning_rate);
    check_fo_option(std::isfinite(o_.weight_decay) && o_.weight_decay >= 0, "LomoOptions::weight_decay",
                    "finite and >= 0", o_.weight_decay);
    check_fo_option(o_.clip_grad_norm >= 0, "LomoOptions::clip_grad_norm", ">= 0", o_.clip_grad_norm);
    check_fo_option(o_.clip_grad_value >= 0, "LomoOptions::clip_grad_value", ">= 0", o_.clip_grad_value);
    check_fo_option(std::isfinite(o_.loss_scale) && o_.loss_scale > 0, "LomoOptions::loss_scale", "finite and > 0",
                    o_.loss_scale);
    check_fo_option(o_.scale_window > 0, "LomoOptions::scale_window", "> 0", o_.scale_window);
    if (fused_.parameters().empty()) throw std::invalid_argument("zeroth: Lomo needs at least one parameter");
    scale_ = o_.loss_scale;
  }

  /// One step: `loss()` runs the forward pass (with its graph), then one or two backward passes update.
  FirstOrderStep step(const std::function<torch::Tensor()>& loss) {
    FirstOrderStep s;
    s.loss_scale = scale_;
    const torch::Tensor l = loss();
    s.loss = l.item<double>();
    if (!std::isfinite(s.loss)) {
      s.status = Status::non_finite_loss;
      return s;
    }
    const torch::Tensor scaled = scale_ != 1 ? l * scale_ : l;
    double coefficient = 1;
    if (two_passes()) {
      const auto check = detail::check_gradients(fused_, scaled);
      s.grad_norm = check.norm / scale_;
      if (!check.finite) {
        if (o_.dynamic_loss_scale) {
          scale_ /= 2;
          good_ = 0;
          s.skipped = true;
        } else {
          s.status = Status::non_finite_gradient;
        }
        return s;
      }
      if (o_.clip_grad_norm > 0) coefficient = std::min(1.0, o_.clip_grad_norm / (s.grad_norm + 1e-6));
    }
    const double lr = o_.learning_rate, wd = o_.weight_decay, value = o_.clip_grad_value, unscale = 1 / scale_;
    fused_.run(scaled, [&](std::size_t i, const torch::Tensor& grad) {
      torch::Tensor g = grad;
      if (unscale != 1) g = g * unscale;
      if (value > 0) g = g.clamp(-value, value);
      if (coefficient != 1) g = g * coefficient;
      torch::Tensor p = fused_.parameters()[i].second.data();
      if (wd != 0 && decays_[i]) g = g.add(p, wd);
      p.add_(g, -lr);
    });
    if (o_.dynamic_loss_scale && ++good_ >= o_.scale_window) {
      scale_ *= 2;
      good_ = 0;
    }
    return s;
  }

  /// The dynamic loss scale's state, saved and loaded as torch::optim's optimizers do (backends/torch/checkpoint.hpp).
  void save(torch::serialize::OutputArchive& out) const {
    out.write("lomo.scale", detail::vector_tensor(std::vector<double>{scale_, static_cast<double>(good_)}, torch::kDouble));
  }
  void load(torch::serialize::InputArchive& in) {
    const auto v = detail::read_vector<double>(in, "lomo.scale", 2, torch::kDouble);
    if (!(std::isfinite(v[0]) && v[0] > 0 && v[1] >= 0 && v[1] < o_.scale_window))
      throw std::runtime_error("zeroth: the saved LOMO state (loss scale " + std::to_string(v[0]) + " after " +
                               std::to_string(v[1]) + " good steps) does not fit these options");
    scale_ = v[0];
    good_ = static_cast<int>(v[1]);
  }

  double loss_scale() const noexcept { return scale_; }
  const LomoOptions& options() const noexcept { return o_; }
  void set_learning_rate(double lr) { o_.learning_rate = lr; }

 private:
  bool two_passes() const noexcept {
    return o_.clip_grad_norm > 0 || o_.check_finite || o_.loss_scale != 1 || o_.dynamic_loss_scale;
  }

  LomoOptions o_;
  FusedBackward fused_;
  std::vector<bool> decays_;
  double scale_ = 1;
  int good_ = 0;
};

}  // namespace zeroth::libtorch
