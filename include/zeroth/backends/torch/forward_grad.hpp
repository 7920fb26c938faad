#pragma once
// Forward-mode gradients through LibTorch's forward AD (dual tensors): the directional derivative of a loss along a
// tangent per parameter in one forward pass, and a ForwardGrad step of a zeroth Run over a LibTorch backend's store.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include <torch/csrc/autograd/forward_grad.h>
#include <torch/torch.h>

#include "zeroth/backends/torch/parameters.hpp"
#include "zeroth/optimizer/run.hpp"
#include "zeroth/random/direction.hpp"

namespace zeroth::libtorch {

/// The loss and its directional derivative along `tangents` (one per parameter, in its shape; an undefined one
/// counts as zero), from one forward pass on dual tensors: loss() reads the parameters, which carry the tangents for
/// its duration. No graph is built.
struct DirectionalDerivative {
  double loss = 0, jvp = 0;
};
inline DirectionalDerivative jvp(const std::vector<NamedTensor>& parameters, const std::vector<torch::Tensor>& tangents,
                                 const std::function<torch::Tensor()>& loss) {
  if (tangents.size() != parameters.size())
    throw std::invalid_argument("zeroth: jvp needs one tangent per parameter (" + std::to_string(parameters.size()) +
                                "), got " + std::to_string(tangents.size()));
  torch::NoGradGuard no_grad;
  const std::uint64_t level = torch::autograd::ForwardADLevel::get_next_idx();
  DirectionalDerivative out;
  try {
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      if (!tangents[i].defined()) continue;
      const torch::Tensor& p = parameters[i].second;
      if (tangents[i].sizes() != p.sizes())
        throw std::invalid_argument("zeroth: the tangent of '" + parameters[i].first + "' has another shape");
      p._set_fw_grad(tangents[i].to(p.scalar_type()).contiguous(), level, /*is_inplace_op=*/false);
    }
    const torch::Tensor l = loss();
    out.loss = l.item<double>();
    const torch::Tensor& d = l._fw_grad(level);
    out.jvp = d.defined() ? d.item<double>() : 0.0;
  } catch (...) {
    torch::autograd::ForwardADLevel::release_idx(level);
    throw;
  }
  torch::autograd::ForwardADLevel::release_idx(level);  // the parameters lose their tangents
  return out;
}

/// One ForwardGrad step of `run` over a store of `parameters`' blocks (blocks_of(parameters), in that order): the
/// JVP along each direction k's tangent n_k z(seed_k, block, index) on the trainable blocks, told to the run.
/// Returns the step's summary.
///   auto run = zeroth::ForwardGradSGD({.learning_rate = 1e-3}).run(store);
///   zeroth::libtorch::forward_grad_step(run, model.named_parameters(), [&] { return model.loss_tensor(batch); });
template <class E, class R>
StepInfo forward_grad_step(Run<E, R>& run, const std::vector<NamedTensor>& parameters,
                           const std::function<torch::Tensor()>& loss) {
  static_assert(!requires(const E& e) { e.masks(); },
                "zeroth: libtorch::forward_grad_step measures JVPs along unmasked directions: use ForwardGrad itself");
  const auto& blocks = run.store().blocks();
  if (blocks.size() != parameters.size())
    throw std::logic_error("zeroth: forward_grad_step needs a run over the parameters' blocks");
  const auto dirs = run.begin_directional();
  std::vector<double> g(dirs.seeds.size());
  double value = 0;
  alignas(64) float z[random::kGroup];
  for (std::size_t k = 0; k < dirs.seeds.size(); ++k) {
    std::vector<torch::Tensor> tangents(parameters.size());
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      if (!blocks[b].flags.trainable) continue;
      torch::Tensor t = torch::empty(parameters[b].second.sizes(), torch::kFloat);
      float* out = t.data_ptr<float>();
      const std::size_t n = blocks[b].size;
      for (std::size_t grp = 0; grp * random::kGroup < n; ++grp) {
        random::direction_group(dirs.kind, dirs.seeds[k], static_cast<std::uint32_t>(b), grp, z);
        for (std::size_t i = grp * random::kGroup; i < std::min(n, (grp + 1) * random::kGroup); ++i)
          out[i] = static_cast<float>(dirs.norms[k] * z[i % random::kGroup]);
      }
      tangents[b] = t;
    }
    const auto d = jvp(parameters, tangents, loss);
    g[k] = d.jvp;
    value = d.loss;
  }
  std::optional<StepInfo> info = run.tell_directional(g, value);
  while (!info) {  // a candidate phase (ZO-SGD-Cons): plain evaluations
    run.ask();
    torch::NoGradGuard no_grad;
    info = run.tell(loss().item<double>());
  }
  return *info;
}

}  // namespace zeroth::libtorch
