#pragma once
// The fused backward pass of LOMO and AdaLomo: each parameter's gradient is consumed (an update applied, or a norm
// taken) as soon as back-propagation has completed it, and released, so that at most one parameter's gradient exists
// beyond those back-propagation is still computing.
#include <cstddef>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "zeroth/backends/torch/parameters.hpp"

namespace zeroth::libtorch {

/// Hooks on the parameters' gradient accumulators (registered once; removed with the object). A hook fires when
/// parameter i's gradient is about to be stored: the previous parameter's gradient is complete by then (the CPU
/// autograd engine runs one node at a time), so it is visited and released; the last one after the pass. A parameter
/// used several times in the graph has one accumulator: it is visited once, with the summed gradient, after every
/// use has back-propagated into it.
class FusedBackward {
 public:
  /// visit(i, gradient): parameter i's complete gradient, dense, in the parameter's dtype.
  using Visit = std::function<void(std::size_t, const torch::Tensor&)>;

  explicit FusedBackward(std::vector<NamedTensor> parameters) : params_(std::move(parameters)) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      torch::Tensor& p = params_[i].second;
      if (!p.requires_grad()) p.requires_grad_(true);
      hooks_.push_back(p.register_hook([this, i](const torch::Tensor&) {
        flush();
        pending_ = static_cast<std::ptrdiff_t>(i);
        return torch::Tensor();  // undefined: the gradient is stored as computed
      }));
    }
  }
  FusedBackward(const FusedBackward&) = delete;
  FusedBackward& operator=(const FusedBackward&) = delete;
  ~FusedBackward() {
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i].second.remove_hook(hooks_[i]);
  }

  /// Back-propagates `loss`, visiting each parameter's gradient once it is complete; a parameter the loss does not
  /// depend on is not visited. `retain_graph` keeps the graph for a second pass (LOMO's clipping).
  void run(const torch::Tensor& loss, const Visit& visit, bool retain_graph = false) {
    for (auto& p : params_) p.second.mutable_grad().reset();
    visit_ = &visit;
    pending_ = -1;
    try {
      loss.backward({}, retain_graph);
      flush();
    } catch (...) {
      visit_ = nullptr;
      for (auto& p : params_) p.second.mutable_grad().reset();
      throw;
    }
    visit_ = nullptr;
  }

  const std::vector<NamedTensor>& parameters() const noexcept { return params_; }

 private:
  void flush() {
    if (pending_ < 0 || visit_ == nullptr) return;
    const auto i = static_cast<std::size_t>(pending_);
    torch::Tensor& p = params_[i].second;
    pending_ = -1;
    torch::Tensor g = p.grad();
    p.mutable_grad().reset();
    if (!g.defined()) return;
    torch::NoGradGuard no_grad;
    (*visit_)(i, g.is_sparse() ? g.to_dense() : g);
  }

  std::vector<NamedTensor> params_;
  std::vector<unsigned> hooks_;
  const Visit* visit_ = nullptr;
  std::ptrdiff_t pending_ = -1;
};

}  // namespace zeroth::libtorch
