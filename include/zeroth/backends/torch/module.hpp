#pragma once
// ModuleBackend: a LibTorch model (a torch::nn module written in C++, or a TorchScript file) and a loss on a batch of
// example indices, as a zeroth backend whose blocks are the model's own tensors.
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/script.h>
#include <torch/torch.h>

#include "zeroth/backends/torch/forward_grad.hpp"
#include "zeroth/backends/torch/parameters.hpp"
#include "zeroth/stores/block.hpp"

namespace zeroth::libtorch {

/// The loss of a batch of example indices, as a scalar tensor (with its graph when grad mode is on).
using LossFunction = std::function<torch::Tensor(std::span<const std::size_t>)>;

/// Satisfies zeroth::Backend: parameters() are blocks over the model's tensors (every ZO method runs on them through
/// the host sweeps), loss() a forward pass without a graph; loss_tensor() keeps the graph for first-order methods
/// (zeroth/backends/torch/lomo.hpp). The trainable tensors require gradients, the frozen ones do not, so a
/// backward pass never computes or stores what nothing trains.
///   auto net = std::make_shared<Net>();
///   zeroth::libtorch::ModuleBackend model(net, [&](std::span<const std::size_t> batch) { return net->loss(batch); });
///   zeroth::BufferStore store = zeroth::make_store(model);
class ModuleBackend {
 public:
  ModuleBackend(std::shared_ptr<torch::nn::Module> module, LossFunction loss, ParameterSelection select = {})
      : module_(std::move(module)), loss_(std::move(loss)), select_(std::move(select)) {
    if (!module_) throw std::invalid_argument("zeroth: ModuleBackend needs a module");
    init(libtorch::named_parameters(*module_));
  }
  /// Over a TorchScript module (torch::jit::load); `loss` calls it (capture a copy: jit modules share their state).
  ModuleBackend(torch::jit::Module module, LossFunction loss, ParameterSelection select = {})
      : script_(std::make_shared<torch::jit::Module>(std::move(module))), loss_(std::move(loss)),
        select_(std::move(select)) {
    std::vector<NamedTensor> named;
    for (const auto& p : script_->named_parameters(/*recurse=*/true)) named.emplace_back(p.name, p.value);
    init(std::move(named));
  }

  std::vector<Block> parameters() const { return blocks_of(params_, select_); }
  /// The loss of `batch` without a graph (the ZO path).
  double loss(std::span<const std::size_t> batch) {
    torch::NoGradGuard no_grad;
    return loss_(batch).item<double>();
  }
  /// The directional derivative of loss(batch) along `tangent` (float32, one pointer per block of parameters(), null
  /// for none), by forward AD (zeroth::BackendWithJvp).
  double jvp(std::span<const std::size_t> batch, std::span<const float* const> tangent) {
    if (tangent.size() != params_.size())
      throw std::invalid_argument("zeroth: jvp needs one tangent per block (" + std::to_string(params_.size()) + ")");
    std::vector<torch::Tensor> t(params_.size());
    for (std::size_t i = 0; i < t.size(); ++i)
      if (tangent[i])
        t[i] = torch::from_blob(const_cast<float*>(tangent[i]), params_[i].second.sizes(), torch::kFloat);
    return libtorch::jvp(params_, t, [&] { return loss_(batch); }).jvp;
  }
  /// The loss of `batch` with its graph (grad mode as the caller has it).
  torch::Tensor loss_tensor(std::span<const std::size_t> batch) { return loss_(batch); }

  const std::vector<NamedTensor>& named_parameters() const noexcept { return params_; }
  /// The trainable parameters, in module order.
  std::vector<NamedTensor> trainable_parameters() const { return trainable(params_, select_); }
  const ParameterSelection& selection() const noexcept { return select_; }
  /// Trains the parameters selected by `select` from now on (and only those require gradients).
  void select(ParameterSelection select) {
    select_ = std::move(select);
    for (auto& [name, t] : params_) t.requires_grad_(select_.is_trainable(name));
  }

 private:
  void init(std::vector<NamedTensor> named) {
    if (!loss_) throw std::invalid_argument("zeroth: ModuleBackend needs a loss function");
    params_ = std::move(named);
    if (params_.empty()) throw std::invalid_argument("zeroth: the module has no parameters");
    blocks_of(params_, select_);  // checks dtypes, devices and layouts now, naming the parameter
    select(select_);
  }

  std::shared_ptr<torch::nn::Module> module_;
  std::shared_ptr<torch::jit::Module> script_;
  LossFunction loss_;
  ParameterSelection select_;
  std::vector<NamedTensor> params_;
};

/// Loads a TorchScript file (torch.jit.save's output); throws std::runtime_error naming the file.
inline torch::jit::Module load_script(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path))
    throw std::runtime_error("zeroth: '" + path.string() + "': no such TorchScript file");
  try {
    return torch::jit::load(path.string());
  } catch (const c10::Error& e) {
    throw std::runtime_error("zeroth: '" + path.string() + "' is not a TorchScript file: " + e.what_without_backtrace());
  }
}

}  // namespace zeroth::libtorch
