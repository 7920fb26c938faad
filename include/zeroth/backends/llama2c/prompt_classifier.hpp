#pragma once
// PromptClassifier: a llama2.c model as a zeroth backend for prompt-based classification. Each class's verbalizer is
// scored by its mean log-likelihood after the prompt; the loss is cross-entropy over those scores.
#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/adapters/backend.hpp"
#include "zeroth/adapters/evaluation.hpp"
#include "zeroth/backends/llama2c/blocks.hpp"
#include "zeroth/backends/llama2c/log_probs.hpp"
#include "zeroth/backends/llama2c/model.hpp"
#include "zeroth/backends/llama2c/tokenizer.hpp"
#include "zeroth/tasks/prompts.hpp"
#include "zeroth/tasks/spec.hpp"

namespace zeroth::llama2c {

/// Satisfies zeroth::Backend: parameters() are the model's tensors, loss(batch) indexes `examples`. Enable LoRA or a
/// prefix on the model before constructing it (prompts are truncated to leave room for the prefix).
class PromptClassifier {
 public:
  PromptClassifier(Model& model, const Tokenizer& tokenizer, data::Task task, std::vector<data::Example> examples)
      : model_(model), tokenizer_(tokenizer) {
    for (const auto& e : examples) items_.push_back(tokenize(tasks::make_prompt(task, e), e.label));
  }

  /// From items a tasks::TaskSpec rendered: `text` is the context, `candidates` one continuation per class.
  ///   PromptClassifier dev(model, tok, tasks::load(tasks::preset("rte", tasks::ModelKind::causal_lm), path));
  PromptClassifier(Model& model, const Tokenizer& tokenizer, std::vector<tasks::Item> items)
      : model_(model), tokenizer_(tokenizer) {
    for (const auto& it : items) {
      if (it.candidates.size() < 2 || !it.text_b.empty())
        throw std::invalid_argument("zeroth: PromptClassifier: the item from line " + std::to_string(it.line) +
                                    " needs one candidate per class (a spec with verbalizers) and no text_b");
      items_.push_back(tokenize({it.text, it.candidates}, it.label));
    }
  }

  /// The model's tensors as blocks (llama2c::model_blocks): with LoRA or a prefix, only the adapters are trainable.
  std::vector<Block> parameters() { return model_blocks(model_); }

  double loss(std::span<const std::size_t> batch) { return batch_loss(example_losses(batch)); }
  /// Each example's cross-entropy over its candidates (weight 1): loss() is their batch_loss().
  std::vector<ExampleLoss> example_losses(std::span<const std::size_t> batch) {
    std::vector<ExampleLoss> out;
    score(batch, nullptr, &out);
    return out;
  }

  std::vector<int> predict(std::span<const std::size_t> batch) {
    std::vector<int> out;
    score(batch, &out);
    return out;
  }

  /// Loss, accuracy and predictions over examples [0, n) (all by default), in chunks of `chunk` examples.
  Evaluation evaluate(std::size_t n = static_cast<std::size_t>(-1), std::size_t chunk = 64) {
    return evaluate_in_chunks(
        std::min(n, items_.size()), chunk, [&](auto idx, std::vector<int>& p) { return score(idx, &p); },
        [&](std::size_t i) { return items_[i].label; });
  }

  std::size_t size() const noexcept { return items_.size(); }
  /// Number of classes (candidates per example).
  std::size_t classes() const noexcept { return items_.empty() ? 0 : items_.front().candidates.size(); }
  /// The label of example i.
  int label(std::size_t i) const { return items_.at(i).label; }
  Model& model() noexcept { return model_; }

 private:
  struct Item {
    std::vector<int> context;                  // BOS + prompt tokens (truncated from the left to fit)
    std::vector<std::vector<int>> candidates;  // verbalizer tokens per class
    int label;
  };

  Item tokenize(const tasks::Prompt& p, int label) const {
    Item it;
    it.label = label;
    std::size_t longest = 0;
    for (const auto& c : p.candidates) {
      it.candidates.push_back(tokenizer_.encode_continuation(c));
      longest = std::max(longest, it.candidates.back().size());
    }
    it.context = tokenizer_.encode(p.context, true, false);
    const std::size_t limit = static_cast<std::size_t>(model_.config().seq_len - model_.prefix_tokens()) - longest;
    if (it.context.size() > limit)  // keep BOS and the end of the prompt, where the question is
      it.context.erase(it.context.begin() + 1, it.context.begin() + 1 + static_cast<long>(it.context.size() - limit));
    return it;
  }

  // Mean cross-entropy over the batch; fills predictions (argmax of the candidate scores) when asked.
  double score(std::span<const std::size_t> batch, std::vector<int>* pred, std::vector<ExampleLoss>* each = nullptr) {
    inputs_.clear();
    targets_.clear();
    for (std::size_t i : batch) {
      const Item& it = items_.at(i);
      for (const auto& c : it.candidates) {
        std::vector<int> seq = it.context;
        seq.insert(seq.end(), c.begin(), c.end());
        std::vector<int> tgt(seq.size(), -1);
        for (std::size_t t = it.context.size(); t < seq.size(); ++t) tgt[t - 1] = seq[t];
        seq.pop_back();
        tgt.pop_back();
        inputs_.push_back(std::move(seq));
        targets_.push_back(std::move(tgt));
      }
    }
    const auto lp = target_log_probs(model_, inputs_, targets_);
    double total = 0;
    if (pred) pred->clear();
    std::size_t row = 0;
    for (std::size_t i : batch) {
      const Item& it = items_[i];
      std::vector<double> s(it.candidates.size());
      for (std::size_t c = 0; c < s.size(); ++c, ++row)
        s[c] = lp[row].cast<double>().sum() / static_cast<double>(it.candidates[c].size());
      const double mx = *std::max_element(s.begin(), s.end());
      double z = 0;
      for (double v : s) z += std::exp(v - mx);
      const double l = -(s[static_cast<std::size_t>(it.label)] - mx - std::log(z));
      total += l;
      if (each) each->push_back({l, 1.0});
      if (pred) pred->push_back(static_cast<int>(std::max_element(s.begin(), s.end()) - s.begin()));
    }
    return total / static_cast<double>(batch.size());
  }

  Model& model_;
  const Tokenizer& tokenizer_;
  std::vector<Item> items_;
  std::vector<std::vector<int>> inputs_, targets_;
};

static_assert(zeroth::BackendWithPredictions<PromptClassifier>);
static_assert(zeroth::BackendWithExampleLosses<PromptClassifier>);

}  // namespace zeroth::llama2c
