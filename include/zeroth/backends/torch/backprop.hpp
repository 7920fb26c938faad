#pragma once
// The first-order baselines MeZO compares against: back-propagation into every trained tensor's .grad, then a
// torch::optim step (FO-SGD, FO-AdamW), with LOMO's checks: a non-finite loss or gradient moves nothing.
#include <cmath>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "zeroth/backends/torch/lomo.hpp"
#include "zeroth/backends/torch/parameters.hpp"

namespace zeroth::libtorch {

/// Back-propagation then `Optim`'s step (torch::optim::SGD, AdamW, ...). Holds every trained tensor's gradient at
/// once (and AdamW two moments per element): the memory LOMO and the ZO methods are measured against.
///   zeroth::libtorch::FOAdamW opt(model.trainable_parameters(), torch::optim::AdamWOptions(1e-5));
template <class Optim>
class Backprop {
 public:
  template <class OptimOptions>
  Backprop(std::vector<NamedTensor> parameters, OptimOptions options, double clip_grad_norm = 0)
      : params_(std::move(parameters)), optim_(tensors(params_), options), clip_(clip_grad_norm) {
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

 private:
  static std::vector<torch::Tensor> tensors(const std::vector<NamedTensor>& ps) {
    std::vector<torch::Tensor> out;
    for (const auto& p : ps) out.push_back(p.second);
    return out;
  }
  std::vector<NamedTensor> params_;
  Optim optim_;
  double clip_;
};

using FOSGD = Backprop<torch::optim::SGD>;
using FOAdamW = Backprop<torch::optim::AdamW>;

}  // namespace zeroth::libtorch
