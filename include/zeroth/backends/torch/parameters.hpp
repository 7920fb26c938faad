#pragma once
// LibTorch parameters as zeroth blocks: one block per tensor, over the tensor's own storage (no copy), with the
// trainable and weight-decay flags chosen by name patterns.
#include <cstddef>
#include <regex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "zeroth/stores/block.hpp"
#include "zeroth/stores/dtype.hpp"

namespace zeroth::libtorch {

/// A parameter by its module path ("encoder.layer.0.attention.self.query.weight") and its tensor.
using NamedTensor = std::pair<std::string, torch::Tensor>;

/// Which parameters are trained, and which are exempt from weight decay, by ECMAScript regular expressions searched
/// in the parameter's name (std::regex_search): a parameter is trainable when it matches one of `trainable` and none
/// of `frozen`; it decays unless it matches one of `no_decay` (biases and norms, as MeZO and Hugging Face's Trainer).
///   ParameterSelection{.trainable = {"^encoder\\.layer\\.[45]\\."}}   // the last two layers of a 6-layer encoder
struct ParameterSelection {
  std::vector<std::string> trainable = {""};  ///< "" matches every name
  std::vector<std::string> frozen = {};
  std::vector<std::string> no_decay = {"bias$", "LayerNorm", "layer_norm", "norm\\."};

  bool is_trainable(const std::string& name) const { return any(trainable, name) && !any(frozen, name); }
  bool decays(const std::string& name) const { return !any(no_decay, name); }

 private:
  static bool any(const std::vector<std::string>& patterns, const std::string& name) {
    for (const auto& p : patterns) {
      try {
        if (std::regex_search(name, std::regex(p))) return true;
      } catch (const std::regex_error& e) {
        throw std::invalid_argument("zeroth: parameter pattern '" + p + "' is not a regular expression: " + e.what());
      }
    }
    return false;
  }
};

/// zeroth's storage type of a tensor's elements; throws std::invalid_argument naming the parameter for another one.
inline DType dtype_of(const torch::Tensor& t, const std::string& name) {
  switch (t.scalar_type()) {
    case torch::kFloat: return DType::f32;
    case torch::kDouble: return DType::f64;
    case torch::kBFloat16: return DType::bf16;
    case torch::kHalf: return DType::f16;
    default:
      throw std::invalid_argument("zeroth: parameter '" + name + "' is " + std::string(c10::toString(t.scalar_type())) +
                                  ": a block holds float32, float64, bfloat16 or float16");
  }
}

/// One block per tensor, over its storage. Every tensor must be a contiguous CPU tensor (the host sweeps write it in
/// place); throws std::invalid_argument naming the parameter otherwise.
inline std::vector<Block> blocks_of(const std::vector<NamedTensor>& parameters, const ParameterSelection& select = {}) {
  std::vector<Block> out;
  for (const auto& [name, t] : parameters) {
    if (!t.defined()) throw std::invalid_argument("zeroth: parameter '" + name + "' is undefined");
    if (!t.device().is_cpu())
      throw std::invalid_argument("zeroth: parameter '" + name + "' is on " + t.device().str() +
                                  ": the host sweeps need CPU tensors");
    if (!t.is_contiguous()) throw std::invalid_argument("zeroth: parameter '" + name + "' is not contiguous");
    std::vector<std::size_t> shape;
    for (auto s : t.sizes()) shape.push_back(static_cast<std::size_t>(s));
    out.push_back(Block{name, t.data_ptr(), static_cast<std::size_t>(t.numel()), dtype_of(t, name),
                        {.trainable = select.is_trainable(name), .decay = select.decays(name)}, std::move(shape), {}});
  }
  return out;
}

/// The parameters of a torch::nn module, by their module paths.
inline std::vector<NamedTensor> named_parameters(const torch::nn::Module& module) {
  std::vector<NamedTensor> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

/// The parameters selected as trainable, in module order.
inline std::vector<NamedTensor> trainable(const std::vector<NamedTensor>& parameters, const ParameterSelection& select) {
  std::vector<NamedTensor> out;
  for (const auto& p : parameters)
    if (select.is_trainable(p.first)) out.push_back(p);
  return out;
}

}  // namespace zeroth::libtorch
