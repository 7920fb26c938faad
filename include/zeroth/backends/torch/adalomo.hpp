#pragma once
// AdaLomo (Lv et al. 2023): LOMO with an Adafactor-style factored second moment, grouped update normalisation and a
// learning rate relative to each tensor's RMS, fused into the backward pass as LOMO is. The per-tensor arithmetic is
// zeroth::Factored's (detail::factored::dense_update): one implementation, fed a ZO estimate or a true gradient.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <torch/torch.h>

#include "zeroth/backends/torch/checkpoint.hpp"
#include "zeroth/backends/torch/fused_backward.hpp"
#include "zeroth/backends/torch/lomo.hpp"
#include "zeroth/backends/torch/parameters.hpp"
#include "zeroth/preconditioners/factored.hpp"

namespace zeroth::libtorch {

/// AdaLomo's options (the paper's defaults).
struct AdaLomoOptions {
  double learning_rate = 1e-3;
  double weight_decay = 0;  ///< x <- (1 - lr wd) x on tensors that decay (ParameterSelection::no_decay exempts)
  double decay = 0.8;       ///< beta_t = 1 - t^-decay
  double eps1 = 1e-30;      ///< added to g^2
  double eps2 = 1e-3;       ///< the least parameter RMS the step is relative to
  double loss_scale = 1;    ///< the loss is multiplied by this before back-propagation, gradients divided
  bool check_finite = false;  ///< a first pass checks the gradients: a NaN or infinity then moves nothing
};

/// Per tensor of shape (rows, cols) (leading dimensions folded into rows; a vector is 1 x n), with g its gradient:
///   r <- b r + (1 - b) rowmean(g^2 + eps1), c <- b c + (1 - b) colmean(g^2 + eps1), b = 1 - t^-decay;
///   U = g / sqrt(r_row c_col / mean(r)); U /= max(1, RMS(U)); x <- (1 - lr wd) x - lr max(eps2, RMS(x)) U,
/// applied as soon as back-propagation completes g. State: r and c in float32.
///   zeroth::libtorch::AdaLomo opt(model.trainable_parameters(), {.learning_rate = 1e-3});
///   opt.step([&] { return model.loss_tensor(batch); });
class AdaLomo {
 public:
  AdaLomo(std::vector<NamedTensor> parameters, AdaLomoOptions o = {}, ParameterSelection decay_rule = {})
      : o_(o), fused_(parameters) {
    using detail::check_fo_option;
    check_fo_option(std::isfinite(o_.learning_rate) && o_.learning_rate >= 0, "AdaLomoOptions::learning_rate",
                    "finite and >= 0", o_.learning_rate);
    check_fo_option(o_.decay > 0 && o_.decay <= 1, "AdaLomoOptions::decay", "in (0, 1]", o_.decay);
    check_fo_option(o_.eps2 > 0 && std::isfinite(o_.eps2), "AdaLomoOptions::eps2", "finite and > 0", o_.eps2);
    check_fo_option(std::isfinite(o_.loss_scale) && o_.loss_scale > 0, "AdaLomoOptions::loss_scale",
                    "finite and > 0", o_.loss_scale);
    for (const auto& [name, t] : parameters) {
      if (!t.is_contiguous()) throw std::invalid_argument("zeroth: AdaLomo: parameter '" + name + "' is not contiguous");
      State s;
      const bool matrix = t.dim() >= 2 && t.size(-1) > 0;
      const auto cols = static_cast<std::size_t>(matrix ? t.size(-1) : t.numel());
      s.r.assign(cols ? static_cast<std::size_t>(t.numel()) / cols : 0, 0.0f);
      s.c.assign(cols, 0.0f);
      s.decay = decay_rule.decays(name);
      state_.push_back(std::move(s));
    }
  }

  FirstOrderStep step(const std::function<torch::Tensor()>& loss) {
    FirstOrderStep s;
    s.loss_scale = o_.loss_scale;
    const torch::Tensor l = loss();
    s.loss = l.item<double>();
    if (!std::isfinite(s.loss)) {
      s.status = Status::non_finite_loss;
      return s;
    }
    const torch::Tensor scaled = o_.loss_scale != 1 ? l * o_.loss_scale : l;
    if (o_.check_finite || o_.loss_scale != 1) {
      const auto check = detail::check_gradients(fused_, scaled);
      s.grad_norm = check.norm / o_.loss_scale;
      if (!check.finite) {
        s.status = Status::non_finite_gradient;
        return s;
      }
    }
    ++t_;
    const double beta = 1.0 - std::pow(static_cast<double>(t_), -o_.decay);
    fused_.run(scaled, [&](std::size_t i, const torch::Tensor& grad) {
      torch::Tensor p = fused_.parameters()[i].second.data();
      State& st = state_[i];
      const auto n = static_cast<std::size_t>(p.numel());
      auto apply = [&](auto zero) {  // float32 arithmetic in, float64 for float64 tensors (as Factored's blocks)
        using T = decltype(zero);
        const auto type = std::is_same_v<T, double> ? torch::kDouble : torch::kFloat;
        torch::Tensor g = grad.to(type).contiguous();
        if (o_.loss_scale != 1) g = g * (1 / o_.loss_scale);
        torch::Tensor x = p.scalar_type() == type ? p : p.to(type);
        zeroth::detail::factored::dense_update(std::span<float>(st.r), std::span<float>(st.c),
                                               std::span<T>(x.data_ptr<T>(), n),
                                               std::span<const T>(g.data_ptr<T>(), n), beta, o_.learning_rate,
                                               o_.weight_decay, st.decay, o_.eps1, o_.eps2);
        if (!x.is_same(p)) p.copy_(x);
      };
      if (p.scalar_type() == torch::kDouble)
        apply(0.0);
      else
        apply(0.0f);
    });
    return s;
  }

  /// Row and column statistics of parameter i.
  std::span<const float> rows(std::size_t i) const { return state_.at(i).r; }
  std::span<const float> cols(std::size_t i) const { return state_.at(i).c; }
  std::uint64_t steps() const noexcept { return t_; }

  /// The step count and every row and column moment, saved and loaded as torch::optim's optimizers do
  /// (backends/torch/checkpoint.hpp); a state of other shapes is refused, changing nothing.
  void save(torch::serialize::OutputArchive& out) const {
    out.write("adalomo.step", detail::vector_tensor(std::vector<std::int64_t>{static_cast<std::int64_t>(t_)}, torch::kLong));
    for (std::size_t i = 0; i < state_.size(); ++i) {
      out.write("adalomo.r." + std::to_string(i), detail::vector_tensor(state_[i].r, torch::kFloat));
      out.write("adalomo.c." + std::to_string(i), detail::vector_tensor(state_[i].c, torch::kFloat));
    }
  }
  void load(torch::serialize::InputArchive& in) {
    const auto t = detail::read_vector<std::int64_t>(in, "adalomo.step", 1, torch::kLong)[0];
    if (t < 0) throw std::runtime_error("zeroth: the saved AdaLomo state has step " + std::to_string(t));
    std::vector<State> loaded = state_;
    for (std::size_t i = 0; i < loaded.size(); ++i) {
      loaded[i].r = detail::read_vector<float>(in, "adalomo.r." + std::to_string(i), loaded[i].r.size(), torch::kFloat);
      loaded[i].c = detail::read_vector<float>(in, "adalomo.c." + std::to_string(i), loaded[i].c.size(), torch::kFloat);
    }
    state_ = std::move(loaded);
    t_ = static_cast<std::uint64_t>(t);
  }
  const AdaLomoOptions& options() const noexcept { return o_; }
  void set_learning_rate(double lr) { o_.learning_rate = lr; }

 private:
  struct State {
    std::vector<float> r, c;
    bool decay = true;
  };
  AdaLomoOptions o_;
  FusedBackward fused_;
  std::vector<State> state_;
  std::uint64_t t_ = 0;
};

}  // namespace zeroth::libtorch
