#pragma once
// CausalLM: a llama2.c model as a zeroth backend for causal language modelling. The loss of a batch is the mean
// negative log-likelihood of its texts' tokens, each predicted from BOS and the tokens before it.
#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/adapters/backend.hpp"
#include "zeroth/backends/llama2c/blocks.hpp"
#include "zeroth/backends/llama2c/log_probs.hpp"
#include "zeroth/backends/llama2c/model.hpp"
#include "zeroth/backends/llama2c/tokenizer.hpp"

namespace zeroth::llama2c {

/// Satisfies zeroth::Backend: parameters() are the model's tensors, loss(batch) indexes `texts`. Each text is BOS and
/// its tokens, cut to the model's context (less a prefix, if one is on the model: enable it first). Every token after
/// BOS is a target; a batch's loss weighs every target token alike.
///   llama2c::CausalLM lm(model, tokenizer, data::read_texts("../shared/data/sst2/train.tsv"));
///   double nll = lm.loss(std::vector<std::size_t>{0, 1, 2});
class CausalLM {
 public:
  CausalLM(Model& model, const Tokenizer& tokenizer, std::span<const std::string> texts) : model_(model) {
    const auto limit = static_cast<std::size_t>(model.config().seq_len - model.prefix_tokens()) + 1;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      std::vector<int> t = tokenizer.encode(texts[i], true, false);
      if (t.size() < 2) throw std::invalid_argument("zeroth: text " + std::to_string(i) + " has no tokens");
      if (t.size() > limit) t.resize(limit);
      tokens_.push_back(std::move(t));
    }
  }

  /// The model's tensors as blocks (llama2c::model_blocks): with LoRA or a prefix, only the adapters are trainable.
  std::vector<Block> parameters() { return model_blocks(model_); }

  /// Mean negative log-likelihood per target token over the batch.
  double loss(std::span<const std::size_t> batch) { return batch_loss(example_losses(batch)); }
  /// Each text's negative log-likelihood, weighted by its target tokens: loss() is their batch_loss().
  std::vector<ExampleLoss> example_losses(std::span<const std::size_t> batch) {
    std::vector<ExampleLoss> out;
    score_counts(batch, false, &out);
    return out;
  }

  /// Loss per token and next-token accuracy (the target is the most likely token) over texts [0, n), in chunks.
  Evaluation evaluate(std::size_t n = static_cast<std::size_t>(-1), std::size_t chunk = 64) {
    n = std::min(n, tokens_.size());
    if (chunk == 0) throw std::invalid_argument("zeroth: evaluate needs a chunk of at least 1 example");
    double nll = 0, hits = 0, count = 0;
    std::vector<std::size_t> idx;
    for (std::size_t s = 0; s < n; s += chunk) {
      idx.clear();
      for (std::size_t i = s; i < std::min(n, s + chunk); ++i) idx.push_back(i);
      const Counts c = score_counts(idx, true);
      nll += c.nll;
      hits += c.hits;
      count += c.tokens;
    }
    return {count ? nll / count : 0.0, count ? hits / count : 0.0, n, {}};
  }

  std::size_t size() const noexcept { return tokens_.size(); }
  /// Target tokens of text i (its tokens after BOS).
  std::size_t targets(std::size_t i) const { return tokens_.at(i).size() - 1; }
  Model& model() noexcept { return model_; }

 private:
  struct Counts {
    double nll = 0, hits = 0, tokens = 0;
  };

  Counts score_counts(std::span<const std::size_t> batch, bool top1, std::vector<ExampleLoss>* each = nullptr) {
    inputs_.clear();
    targets_.clear();
    for (std::size_t i : batch) {
      const auto& t = tokens_.at(i);
      inputs_.emplace_back(t.begin(), t.end() - 1);
      targets_.emplace_back(t.begin() + 1, t.end());
    }
    std::vector<Eigen::VectorXf> hit;
    const auto lp = target_log_probs(model_, inputs_, targets_, top1 ? &hit : nullptr);
    Counts c;
    for (std::size_t b = 0; b < lp.size(); ++b) {
      const double nll = -lp[b].cast<double>().sum();
      c.nll += nll;
      c.tokens += static_cast<double>(lp[b].size());
      if (each) each->push_back({nll, static_cast<double>(lp[b].size())});
      if (top1) c.hits += hit[b].cast<double>().sum();
    }
    return c;
  }

  Model& model_;
  std::vector<std::vector<int>> tokens_;
  std::vector<std::vector<int>> inputs_, targets_;
};

static_assert(zeroth::BackendWithExampleLosses<CausalLM>);

}  // namespace zeroth::llama2c
