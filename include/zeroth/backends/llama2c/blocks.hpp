#pragma once
// What the llama2.c backends share: the model's tensors as zeroth blocks, and the numbers of an evaluation.
#include <cstddef>
#include <vector>

#include "zeroth/adapters/evaluation.hpp"
#include "zeroth/backends/llama2c/model.hpp"
#include "zeroth/stores/block.hpp"

namespace zeroth::llama2c {

/// Loss and accuracy over some examples (zeroth::Evaluation; a causal LM leaves the predictions empty).
using Evaluation = zeroth::Evaluation;

/// Every model tensor as a block (norm weights exempt from weight decay). With LoRA or a prefix on the model, the base
/// tensors are frozen blocks and the adapters' buffers (Model::adapter_tensors) follow as trainable ones. After
/// Model::to_bfloat16 the matrices are DType::bf16 blocks (updated in float32, stored rounded).
inline std::vector<Block> model_blocks(Model& model) {
  std::vector<Block> out;
  const auto adapters = model.adapter_tensors();
  for (auto& t : model.weights().tensors())
    out.push_back(
        Block{t.name, t.storage(), t.size, t.dtype(), {.trainable = adapters.empty(), .decay = t.decay}, t.shape, {}});
  for (auto& t : adapters)
    out.push_back(Block{t.name, t.data, t.size, DType::f32, {.trainable = true, .decay = t.decay}, t.shape, {}});
  return out;
}

}  // namespace zeroth::llama2c
