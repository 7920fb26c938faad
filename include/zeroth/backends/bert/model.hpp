#pragma once
// Batched CPU forward pass of a BERT encoder (post-norm layers, GELU, bidirectional attention over each sequence of
// a ragged batch), sentence embeddings by mean or CLS pooling, and LoRA adapters on chosen projections.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "zeroth/backends/bert/config.hpp"
#include "zeroth/backends/bert/weights.hpp"
#include "zeroth/backends/transformer/attention.hpp"
#include "zeroth/backends/transformer/linear.hpp"
#include "zeroth/backends/transformer/norms.hpp"
#include "zeroth/backends/transformer/packed_batch.hpp"
#include "zeroth/random/direction.hpp"
#include "zeroth/stores/block.hpp"

namespace zeroth::bert {

using transformer::RowMatrix;

/// One input: token ids and their token types (0 for the first segment, 1 for the second of a pair).
struct Sequence {
  std::vector<int> ids, token_types;
};

/// The projections LoRA may adapt, by the last part of their Hugging Face module name.
inline constexpr std::string_view kLoraTargets[] = {"query", "key", "value", "attention.output", "intermediate",
                                                    "output"};
inline constexpr LayerTensor kLoraWeights[] = {q_w, k_w, v_w, ao_w, i_w, o_w};

/// LoRA hyper-parameters: W x + (alpha / rank) B A x on every layer's `targets` (names from kLoraTargets).
struct LoraOptions {
  int rank = 8;
  float alpha = 16.0f;
  std::vector<std::string> targets = {"query", "value"};
  std::uint64_t seed = 0;  ///< A's initial values: Gaussian direction elements of this seed, scaled by 1/sqrt(cols)
};

/// Checks every sequence against the model: 1 to max_position_embeddings tokens, ids in the vocabulary, one token
/// type per id within type_vocab_size. Throws std::invalid_argument naming the sequence and the problem.
inline void validate_sequences(const Config& c, std::span<const Sequence> seqs) {
  for (std::size_t b = 0; b < seqs.size(); ++b) {
    const auto& s = seqs[b];
    auto bad = [&](const std::string& what) {
      throw std::invalid_argument("zeroth: BERT input " + std::to_string(b) + ": " + what);
    };
    if (s.ids.empty()) bad("no tokens");
    if (s.ids.size() > static_cast<std::size_t>(c.max_position_embeddings))
      bad(std::to_string(s.ids.size()) + " tokens exceed max_position_embeddings " +
          std::to_string(c.max_position_embeddings));
    if (s.token_types.size() != s.ids.size()) bad("needs one token type per token");
    for (int id : s.ids)
      if (id < 0 || id >= c.vocab_size) bad("token id " + std::to_string(id) + " is outside the vocabulary");
    for (int t : s.token_types)
      if (t < 0 || t >= c.type_vocab_size) bad("token type " + std::to_string(t) + " is outside [0, type_vocab_size)");
  }
}

/// A BERT encoder over owned, mutable weights.
class Encoder {
 public:
  Encoder(Weights weights, PoolingConfig pooling) : w_(std::move(weights)), pooling_(pooling) {
    if (w_.tensors.size() != Weights::layout(w_.config, w_.has_pooler).size())
      throw std::invalid_argument("zeroth: BERT weights do not match their config");
  }

  const Config& config() const noexcept { return w_.config; }
  const PoolingConfig& pooling() const noexcept { return pooling_; }
  Weights& weights() noexcept { return w_; }
  const Weights& weights() const noexcept { return w_; }

  /// Adds fresh LoRA adapters (replacing any): outputs are unchanged until B moves from zero. Throws
  /// std::invalid_argument naming a bad rank, alpha or target.
  void enable_lora(LoraOptions o) {
    if (o.rank <= 0 || o.rank > config().hidden_size)
      throw std::invalid_argument("zeroth: LoRA rank must be in [1, hidden_size] (got " + std::to_string(o.rank) + ")");
    if (!std::isfinite(o.alpha) || o.alpha <= 0) throw std::invalid_argument("zeroth: LoRA alpha must be positive");
    if (o.targets.empty()) throw std::invalid_argument("zeroth: LoRA needs at least one target");
    lora_.clear();
    lora_index_.assign(static_cast<std::size_t>(config().num_hidden_layers) * std::size(kLoraTargets), -1);
    std::vector<int> target_ids;
    for (const auto& name : o.targets) {
      int id = -1;
      for (std::size_t i = 0; i < std::size(kLoraTargets); ++i)
        if (kLoraTargets[i] == name) id = static_cast<int>(i);
      if (id < 0)
        throw std::invalid_argument("zeroth: LoRA target '" + name +
                                    "' is not one of query, key, value, attention.output, intermediate, output");
      for (int t : target_ids)
        if (t == id) throw std::invalid_argument("zeroth: LoRA target '" + name + "' is listed twice");
      target_ids.push_back(id);
    }
    const auto r = static_cast<std::size_t>(o.rank);
    for (int l = 0; l < config().num_hidden_layers; ++l)
      for (int id : target_ids) {
        const Parameter& base = w_.layer(l, kLoraWeights[id]);
        const std::size_t rows = base.shape[0], cols = base.shape[1];
        const std::string stem = base.name.substr(0, base.name.size() - std::string_view(".weight").size());
        Parameter a = Parameter::zeros(stem + ".lora_A.weight", {r, cols}, true);
        const auto block = static_cast<std::uint32_t>(lora_.size());
        const float s = 1.0f / std::sqrt(static_cast<float>(cols));
        for (std::size_t e = 0; e < a.f32.size(); ++e)
          a.f32[e] = s * random::direction_element(Direction::gaussian, o.seed, block, e);
        lora_index_[static_cast<std::size_t>(l) * std::size(kLoraTargets) + static_cast<std::size_t>(id)] =
            static_cast<int>(lora_.size());
        lora_.push_back(std::move(a));
        lora_.push_back(Parameter::zeros(stem + ".lora_B.weight", {rows, r}, true));
      }
    lora_options_ = std::move(o);
  }
  bool has_lora() const noexcept { return !lora_.empty(); }
  const LoraOptions& lora_options() const noexcept { return lora_options_; }
  /// The adapters' tensors (A then B per adapted projection and layer).
  std::vector<Parameter>& adapters() noexcept { return lora_; }

  /// The tensors as zeroth blocks: every encoder tensor trainable (the unused pooler frozen); with LoRA, the base
  /// tensors frozen and the adapters trainable.
  std::vector<Block> blocks() {
    std::vector<Block> out;
    for (auto& t : w_.tensors) out.push_back(t.block(!has_lora() && t.name.rfind("pooler.", 0) != 0));
    for (auto& t : lora_) out.push_back(t.block(true));
    return out;
  }

  /// The tensors to save: float32 copies with the adapters merged in (W + alpha/rank B A), as a Hugging Face
  /// BertModel holds them.
  std::vector<Parameter> merged_tensors() const {
    std::vector<Parameter> out;
    for (const auto& t : w_.tensors) out.push_back({t.name, t.shape, t.decay, t.float32(), {}});
    if (!has_lora()) return out;
    const float scale = lora_options_.alpha / static_cast<float>(lora_options_.rank);
    for (int l = 0; l < config().num_hidden_layers; ++l)
      for (std::size_t id = 0; id < std::size(kLoraTargets); ++id) {
        const int k = lora_index_[static_cast<std::size_t>(l) * std::size(kLoraTargets) + id];
        if (k < 0) continue;
        Parameter& W = out[Weights::layer_index(l, kLoraWeights[id])];
        const Parameter &A = lora_[static_cast<std::size_t>(k)], &B = lora_[static_cast<std::size_t>(k) + 1];
        const auto rows = static_cast<Eigen::Index>(W.shape[0]), cols = static_cast<Eigen::Index>(W.shape[1]);
        const auto r = static_cast<Eigen::Index>(A.shape[0]);
        Eigen::Map<RowMatrix>(W.f32.data(), rows, cols) +=
            scale * (Eigen::Map<const RowMatrix>(B.f32.data(), rows, r) * Eigen::Map<const RowMatrix>(A.f32.data(), r, cols));
      }
    return out;
  }

  /// Checks every sequence against the model (validate_sequences).
  void validate(std::span<const Sequence> seqs) const { validate_sequences(config(), seqs); }

  /// Sentence embeddings [B x hidden]: the last layer's states pooled as pooling() says (mean over the tokens, or
  /// the first), then L2-normalised when pooling().normalize. In parallel over groups of sequences fixed by their
  /// lengths: the bits do not depend on the thread count.
  RowMatrix embed(std::span<const Sequence> seqs) const {
    validate(seqs);
    RowMatrix out(static_cast<Eigen::Index>(seqs.size()), config().hidden_size);
    run(seqs, [&](std::size_t b0, const transformer::PackedBatch& packed, const RowMatrix& h) {
      for (std::size_t b = 0; b < packed.sequences(); ++b) {
        const auto rows = h.middleRows(packed.offset[b], packed.length(b));
        auto e = out.row(static_cast<Eigen::Index>(b0 + b));
        if (pooling_.mode == Pooling::cls)
          e = rows.row(0);
        else
          e = rows.colwise().sum() / static_cast<float>(rows.rows());
        if (pooling_.normalize) e /= std::max(e.norm(), 1e-12f);  // torch.nn.functional.normalize's eps
      }
    });
    return out;
  }

  /// The last layer's hidden state of every token, packed [sum of lengths x hidden].
  RowMatrix hidden_states(std::span<const Sequence> seqs) const {
    validate(seqs);
    Eigen::Index n = 0;
    for (const auto& s : seqs) n += static_cast<Eigen::Index>(s.ids.size());
    RowMatrix out(n, config().hidden_size);
    std::vector<Eigen::Index> first(seqs.size() + 1, 0);
    for (std::size_t b = 0; b < seqs.size(); ++b) first[b + 1] = first[b] + static_cast<Eigen::Index>(seqs[b].ids.size());
    run(seqs, [&](std::size_t b0, const transformer::PackedBatch&, const RowMatrix& h) {
      out.middleRows(first[b0], h.rows()) = h;
    });
    return out;
  }

 private:
  // Runs the encoder over fixed groups of `seqs` in parallel; visit(first sequence, group's packing, its states).
  template <class Visit>
  void run(std::span<const Sequence> seqs, Visit&& visit) const {
    std::vector<std::size_t> lengths;
    for (const auto& s : seqs) lengths.push_back(s.ids.size());
    const auto all = transformer::PackedBatch::of(lengths);
    transformer::for_each_group(all, [&](std::size_t b0, std::size_t b1) {
      const auto group = seqs.subspan(b0, b1 - b0);
      std::vector<std::size_t> len(lengths.begin() + static_cast<std::ptrdiff_t>(b0),
                                   lengths.begin() + static_cast<std::ptrdiff_t>(b1));
      const auto packed = transformer::PackedBatch::of(len);
      visit(b0, packed, forward(group, packed));
    });
  }

  transformer::LoraRef lora(int l, std::size_t target) const {
    if (lora_.empty()) return {};
    const int k = lora_index_[static_cast<std::size_t>(l) * std::size(kLoraTargets) + target];
    if (k < 0) return {};
    const Parameter &A = lora_[static_cast<std::size_t>(k)], &B = lora_[static_cast<std::size_t>(k) + 1];
    return {A.f32.data(), B.f32.data(), static_cast<Eigen::Index>(A.shape[0]),
            lora_options_.alpha / static_cast<float>(lora_options_.rank)};
  }

  // The forward pass of one group of validated sequences, packed.
  RowMatrix forward(std::span<const Sequence> seqs, const transformer::PackedBatch& packed) const {
    using namespace transformer;
    const Config& c = config();
    const Eigen::Index H = c.hidden_size, hs = c.head_size(), N = packed.rows();
    const float eps = c.layer_norm_eps;
    RowMatrix x(N, H);
    const Parameter &word = w_.embedding(0), &pos = w_.embedding(1), &type = w_.embedding(2);
    for (std::size_t b = 0; b < seqs.size(); ++b)
      for (Eigen::Index t = 0; t < packed.length(b); ++t) {
        const auto r = packed.offset[b] + t;
        const auto i = static_cast<std::size_t>(t);
        for (Eigen::Index j = 0; j < H; ++j)
          x(r, j) = word.at(seqs[b].ids[i], j) + pos.at(t, j) + type.at(seqs[b].token_types[i], j);
      }
    layer_norm(x, w_.embedding(3).f32.data(), w_.embedding(4).f32.data(), eps);

    std::vector<float> scratch;
    RowMatrix q, k, v, att(N, H), proj, inter, low, scores;
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      auto W = [&](LayerTensor t) { return w_.layer(l, t).matrix(); };
      auto bias = [&](LayerTensor t) { return w_.layer(l, t).f32.data(); };
      linear(q, x, W(q_w), bias(q_b), lora(l, 0), scratch, low);
      linear(k, x, W(k_w), bias(k_b), lora(l, 1), scratch, low);
      linear(v, x, W(v_w), bias(v_b), lora(l, 2), scratch, low);
      for (std::size_t b = 0; b < seqs.size(); ++b) {
        const Eigen::Index r = packed.offset[b], T = packed.length(b);
        for (Eigen::Index head = 0; head < c.num_attention_heads; ++head) {
          const auto keys = k.block(r, head * hs, T, hs);
          attend(q.block(r, head * hs, T, hs), keys, v.block(r, head * hs, T, hs), att.block(r, head * hs, T, hs), -1,
                 scores, keys.topRows(0), keys.topRows(0));
        }
      }
      linear(proj, att, W(ao_w), bias(ao_b), lora(l, 3), scratch, low);
      x += proj;
      layer_norm(x, bias(ln1_w), bias(ln1_b), eps);
      linear(inter, x, W(i_w), bias(i_b), lora(l, 4), scratch, low);
      gelu_erf(inter);
      linear(proj, inter, W(o_w), bias(o_b), lora(l, 5), scratch, low);
      x += proj;
      layer_norm(x, bias(ln2_w), bias(ln2_b), eps);
    }
    return x;
  }

  Weights w_;
  PoolingConfig pooling_;
  std::vector<Parameter> lora_;
  std::vector<int> lora_index_;  // [layer x target] -> index of A in lora_ (B follows), -1 when not adapted
  LoraOptions lora_options_;
};

}  // namespace zeroth::bert
