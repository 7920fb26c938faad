#pragma once
// The first-order baselines MeZO compares against: back-propagation into every trained tensor's .grad, then a
// torch::optim step (FO-SGD, FO-AdamW), with LOMO's checks: a non-finite loss or gradient moves nothing.
#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "zeroth/backends/torch/lomo.hpp"
#include "zeroth/backends/torch/parameters.hpp"

namespace zeroth::libtorch {

/// Back-propagation then `Optim`'s step (torch::optim::SGD, AdamW, ...). Holds every trained tensor's gradient at
/// once (and AdamW two moments per element): the memory LOMO and the ZO methods are measured against. The options'
/// weight decay applies to the tensors `decay_rule` says decay (two parameter groups: by default biases and norms are
/// exempt, as in Hugging Face's Trainer).
///   zeroth::libtorch::FOAdamW opt(model.trainable_parameters(), torch::optim::AdamWOptions(1e-5));
template <class Optim>
class Backprop {
 public:
  template <class OptimOptions>
  Backprop(std::vector<NamedTensor> parameters, OptimOptions options, double clip_grad_norm = 0,
           const ParameterSelection& decay_rule = {})
      : params_(std::move(parameters)), optim_(groups(params_, options, decay_rule), options), clip_(clip_grad_norm) {
    detail::check_fo_option(clip_ >= 0, "Backprop clip_grad_norm", ">= 0", clip_);
  }

  FirstOrderStep step(const std::function<torch::Tensor()>& loss) {
    FirstOrderStep s;
    optim_.zero_grad();
    const torch::Tensor l = loss();
    s.loss = l.item<double>();
    if (!std::isfinite(s.loss)) {
      s.status = Status::non_finite_loss;
      return s;
    }
    l.backward();
    double sq = 0;
    for (const auto& [name, p] : params_)
      if (p.grad().defined()) sq += std::pow(p.grad().norm(2).template item<double>(), 2);
    s.grad_norm = std::sqrt(sq);
    if (!std::isfinite(s.grad_norm)) {
      optim_.zero_grad();
      s.status = Status::non_finite_gradient;
      return s;
    }
    if (clip_ > 0 && s.grad_norm > 0) {
      const double coef = std::min(1.0, clip_ / (s.grad_norm + 1e-6));
      if (coef != 1)
        for (auto& [name, p] : params_)
          if (p.grad().defined()) p.mutable_grad() = p.grad() * coef;
    }
    optim_.step();
    return s;
  }

  Optim& optimizer() noexcept { return optim_; }
  /// The torch optimizer's state (AdamW's moments and step counts), as torch::optim saves and loads it.
  void save(torch::serialize::OutputArchive& out) const { optim_.save(out); }
  void load(torch::serialize::InputArchive& in) { optim_.load(in); }

 private:
  // The tensors that decay with `options`, the others with weight_decay 0.
  template <class OptimOptions>
  static std::vector<torch::optim::OptimizerParamGroup> groups(const std::vector<NamedTensor>& ps,
                                                               const OptimOptions& options,
                                                               const ParameterSelection& decay_rule) {
    std::vector<torch::Tensor> decay, exempt;
    for (const auto& [name, t] : ps) (decay_rule.decays(name) ? decay : exempt).push_back(t);
    std::vector<torch::optim::OptimizerParamGroup> out;
    if (!decay.empty()) out.emplace_back(decay, std::make_unique<OptimOptions>(options));
    if (!exempt.empty()) {
      auto o = std::make_unique<OptimOptions>(options);
      o->weight_decay(0);
      out.emplace_back(exempt, std::move(o));
    }
    return out;
  }
  std::vector<NamedTensor> params_;
  Optim optim_;
  double clip_;
};

using FOSGD = Backprop<torch::optim::SGD>;
using FOAdamW = Backprop<torch::optim::AdamW>;

}  // namespace zeroth::libtorch
