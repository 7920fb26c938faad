#pragma once
// A BERT encoder's tensors under their Hugging Face names, read from and written to safetensors.
#include <cstddef>
#include <filesystem>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/backends/bert/config.hpp"
#include "zeroth/backends/transformer/parameter.hpp"
#include "zeroth/stores/dtype.hpp"
#include "zeroth/io/safetensors.hpp"

namespace zeroth::bert {

using transformer::Parameter;

/// The per-layer tensor suffixes, in the order a layer uses them ("attention.self.query.weight", ...).
inline const std::vector<std::string>& layer_tensor_names() {
  static const std::vector<std::string> names = {
      "attention.self.query.weight",  "attention.self.query.bias",       "attention.self.key.weight",
      "attention.self.key.bias",      "attention.self.value.weight",     "attention.self.value.bias",
      "attention.output.dense.weight", "attention.output.dense.bias",    "attention.output.LayerNorm.weight",
      "attention.output.LayerNorm.bias", "intermediate.dense.weight",    "intermediate.dense.bias",
      "output.dense.weight",          "output.dense.bias",               "output.LayerNorm.weight",
      "output.LayerNorm.bias"};
  return names;
}

/// Index of each tensor of a layer within layer_tensor_names().
enum LayerTensor : int { q_w, q_b, k_w, k_b, v_w, v_b, ao_w, ao_b, ln1_w, ln1_b, i_w, i_b, o_w, o_b, ln2_w, ln2_b };

/// Every tensor of the encoder, in architecture order: the 5 embedding tensors, 16 per layer, then the pooler's
/// (kept for saving; unused by mean or CLS pooling) when the file has one.
struct Weights {
  Config config;
  std::vector<Parameter> tensors;
  bool has_pooler = false;

  /// Expected names and shapes for `c` ("embeddings.word_embeddings.weight" [vocab, hidden], ...), optionally with
  /// the pooler.
  static std::vector<Parameter> layout(const Config& c, bool pooler) {
    const std::size_t H = c.hidden_size, I = c.intermediate_size;
    std::vector<Parameter> out;
    auto add = [&](std::string name, std::vector<std::size_t> shape) {
      const bool decay = shape.size() == 2 && name.find("LayerNorm") == std::string::npos;
      out.push_back({std::move(name), std::move(shape), decay, {}, {}});
    };
    add("embeddings.word_embeddings.weight", {static_cast<std::size_t>(c.vocab_size), H});
    add("embeddings.position_embeddings.weight", {static_cast<std::size_t>(c.max_position_embeddings), H});
    add("embeddings.token_type_embeddings.weight", {static_cast<std::size_t>(c.type_vocab_size), H});
    add("embeddings.LayerNorm.weight", {H});
    add("embeddings.LayerNorm.bias", {H});
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      const std::string p = "encoder.layer." + std::to_string(l) + ".";
      const std::vector<std::vector<std::size_t>> shapes = {{H, H}, {H},    {H, H}, {H}, {H, H}, {H}, {H, H}, {H},
                                                            {H},    {H},    {I, H}, {I}, {H, I}, {H}, {H},    {H}};
      for (std::size_t i = 0; i < shapes.size(); ++i) add(p + layer_tensor_names()[i], shapes[i]);
    }
    if (pooler) {
      add("pooler.dense.weight", {H, H});
      add("pooler.dense.bias", {H});
    }
    return out;
  }

  /// Zero weights of the right shapes.
  static Weights zeros(const Config& c, bool pooler = false) {
    Weights w{c, layout(c, pooler), pooler};
    for (auto& t : w.tensors) t.f32.assign(t.numel(), 0.0f);
    return w;
  }

  /// Position of layer l's tensor `t` in `tensors` (after the 5 embedding tensors, 16 per layer).
  static std::size_t layer_index(int l, LayerTensor t) {
    return 5 + static_cast<std::size_t>(l) * 16 + static_cast<std::size_t>(t);
  }
  /// Layer l's tensor `t`.
  const Parameter& layer(int l, LayerTensor t) const { return tensors[layer_index(l, t)]; }
  const Parameter& embedding(int i) const { return tensors[static_cast<std::size_t>(i)]; }

  /// The tensor named `name`; throws std::out_of_range naming it.
  Parameter& at(const std::string& name) {
    for (auto& t : tensors)
      if (t.name == name) return t;
    throw std::out_of_range("zeroth: the BERT weights have no tensor '" + name + "'");
  }
  /// Holds every matrix (2-D tensor) in bfloat16 from now on; biases and LayerNorm stay float32.
  void to_bfloat16() {
    for (auto& t : tensors)
      if (t.shape.size() == 2) t.to_bfloat16();
  }
};

/// Reads the encoder's tensors for `config` from a safetensors file (names with or without the "bert." prefix of
/// BertFor* checkpoints; integer tensors such as position_ids and unknown extra tensors are skipped), the matrices
/// into `matrices` (DType::f32 or DType::bf16). Throws std::runtime_error naming the file and the tensor when one
/// the architecture needs is missing or has the wrong shape; nothing is read until every tensor has been checked.
///   auto w = zeroth::bert::load_weights("model.safetensors", zeroth::bert::read_config("config.json"));
inline Weights load_weights(const std::filesystem::path& path, const Config& config, DType matrices = DType::f32) {
  if (matrices != DType::f32 && matrices != DType::bf16)
    throw std::invalid_argument("zeroth: BERT matrices are f32 or bf16, not " + std::string(to_string(matrices)));
  const auto file = io::SafetensorsFile::open(path);
  auto find = [&](const std::string& name) {
    const io::TensorInfo* t = file.find(name);
    return t ? t : file.find("bert." + name);
  };
  const bool pooler = find("pooler.dense.weight") && find("pooler.dense.bias");
  Weights w{config, Weights::layout(config, pooler), pooler};
  std::vector<const io::TensorInfo*> info;
  for (const auto& t : w.tensors) {
    const io::TensorInfo* i = find(t.name);
    if (!i) throw std::runtime_error("zeroth: '" + path.string() + "': missing tensor '" + t.name + "' (needed by " +
                                     "the BERT architecture of its config)");
    if (i->shape != t.shape || !i->is_float()) {
      std::string want, got;
      for (auto s : t.shape) want += (want.empty() ? "" : ", ") + std::to_string(s);
      for (auto s : i->shape) got += (got.empty() ? "" : ", ") + std::to_string(s);
      throw std::runtime_error("zeroth: '" + path.string() + "': tensor '" + i->name + "' is " +
                               io::to_string(i->dtype) + " [" + got + "], the config needs a float tensor [" + want +
                               "]");
    }
    info.push_back(i);
  }
  for (std::size_t k = 0; k < w.tensors.size(); ++k) {
    Parameter& t = w.tensors[k];
    if (matrices == DType::bf16 && t.shape.size() == 2) {
      t.bf16.resize(t.numel());
      file.read(*info[k], std::span<bfloat16>(t.bf16));
    } else {
      t.f32.resize(t.numel());
      file.read(*info[k], std::span<float>(t.f32));
    }
    const std::size_t at = t.bf16.empty() ? first_non_finite(t.f32.data(), t.f32.size())
                                          : first_non_finite(t.bf16.data(), t.bf16.size());
    if (at != t.numel())
      throw std::runtime_error("zeroth: '" + path.string() + "': tensor '" + info[k]->name +
                               "' holds a NaN or an infinity at element " + std::to_string(at) + " (of " +
                               std::to_string(t.numel()) + "): a model must hold finite numbers");
  }
  return w;
}

/// Writes `tensors` (float32 or bfloat16 each, as held) to a safetensors file atomically, with `metadata`
/// ({"format": "pt"} by default, which Hugging Face's loaders expect).
inline void save_weights(const std::filesystem::path& path, std::span<const Parameter> tensors,
                         const std::map<std::string, std::string>& metadata = {{"format", "pt"}}) {
  std::vector<io::TensorRef> refs;
  for (const auto& t : tensors)
    refs.push_back({t.name, t.dtype() == DType::bf16 ? io::TensorDtype::bf16 : io::TensorDtype::f32, t.shape,
                    t.dtype() == DType::bf16 ? static_cast<const void*>(t.bf16.data())
                                             : static_cast<const void*>(t.f32.data())});
  io::save_safetensors(path, refs, metadata);
}

}  // namespace zeroth::bert
