#pragma once
// The sentence classifier of zeroth/backends/bert (label texts by cosine similarity over a temperature, a linear
// head, or a pair's similarity through a per-class affine map) over the torch::nn BERT encoder: the same examples
// (bert::EncodedTask), the same logits, with a graph for first-order methods.
#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

#include <torch/torch.h>

#include "zeroth/adapters/backend.hpp"
#include "zeroth/adapters/evaluation.hpp"
#include "zeroth/backends/bert/encoded_task.hpp"
#include "zeroth/backends/bert/sentence_classifier.hpp"
#include "zeroth/backends/torch/bert.hpp"
#include "zeroth/backends/torch/parameters.hpp"

namespace zeroth::libtorch {

/// Satisfies zeroth::BackendWithPredictions and BackendWithExampleLosses; loss_tensor() keeps the graph.
///   zeroth::libtorch::SentenceClassifier clf(zeroth::libtorch::load_bert(folder), tokenizer, items);
class SentenceClassifier {
 public:
  SentenceClassifier(BertEncoder encoder, const tokenizers::BertTokenizer& tokenizer,
                     const std::vector<tasks::Item>& items, bert::ClassifierOptions options = {},
                     ParameterSelection select = {})
      : encoder_(std::move(encoder)), options_(options), select_(std::move(select)) {
    if (!(options.temperature > 0)) throw std::invalid_argument("zeroth: the temperature must be positive");
    task_ = bert::EncodedTask::encode(tokenizer, items, options_.max_length);
    const auto C = static_cast<std::int64_t>(task_.classes);
    torch::NoGradGuard no_grad;
    if (task_.pairs) {  // entailment (class 0) = (s - 0.5) / T, the others 0
      head_ = torch::zeros({C, 2});
      head_[0][0] = 1.0 / options_.temperature;
      head_[0][1] = -0.5 / options_.temperature;
    } else if (options_.head) {  // rows = unit label embeddings / T, biases 0: the zero-shot rule
      const torch::Tensor labels = encoder_->embed(task_.label_sequences()).to(torch::kFloat);
      const torch::Tensor unit = labels / labels.norm(2, 1, true).clamp_min(1e-12);
      head_ = torch::cat({unit / options_.temperature, torch::zeros({C, 1})}, 1).contiguous();
    }
    params_ = libtorch::named_parameters(*encoder_);
    if (head_.defined()) params_.emplace_back(task_.pairs ? "pair_head.weight" : "head.weight", head_);
    for (auto& [name, t] : params_) t.requires_grad_(select_.is_trainable(name) && trainable_by_default(name));
  }

  /// Uses the head of `other` (a training classifier's, for its held-out twin over the same encoder).
  void share_head(const SentenceClassifier& other) {
    if (head_.defined() != other.head_.defined() || (head_.defined() && head_.sizes() != other.head_.sizes()))
      throw std::invalid_argument("zeroth: share_head needs a classifier of the same form");
    head_ = other.head_;
    for (auto& [name, t] : params_)
      if (name == "head.weight" || name == "pair_head.weight") t = head_;
  }

  /// Logits [B, classes], float32, with a graph when grad mode is on.
  torch::Tensor logits(std::span<const std::size_t> batch) {
    std::vector<bert::Sequence> seqs;
    for (std::size_t i : batch) seqs.push_back(task_.examples.at(i).input);
    if (task_.pairs)
      for (std::size_t i : batch) seqs.push_back(task_.examples[i].second);
    const bool by_labels = !task_.pairs && !head_.defined();
    std::vector<std::int64_t> row_of(task_.candidates.size(), -1);
    if (by_labels)
      for (std::size_t i : batch)
        for (int c : task_.examples[i].candidates)
          if (row_of[static_cast<std::size_t>(c)] < 0) {
            row_of[static_cast<std::size_t>(c)] = static_cast<std::int64_t>(seqs.size());
            seqs.push_back(task_.candidates[static_cast<std::size_t>(c)]);
          }
    torch::Tensor e = encoder_->embed(seqs).to(torch::kFloat);
    e = e / e.norm(2, 1, true).clamp_min(1e-12);  // cosines
    const auto B = static_cast<std::int64_t>(batch.size());
    const torch::Tensor first = e.narrow(0, 0, B);
    if (task_.pairs) {
      const torch::Tensor s = (first * e.narrow(0, B, B)).sum(1, true);  // [B, 1]
      return s * head_.select(1, 0).unsqueeze(0) + head_.select(1, 1).unsqueeze(0);
    }
    if (!by_labels) {
      const auto H = e.size(1);
      return torch::matmul(first, head_.narrow(1, 0, H).t()) + head_.select(1, H).unsqueeze(0);
    }
    std::vector<std::int64_t> rows;
    for (std::size_t i : batch)
      for (int c : task_.examples[i].candidates) rows.push_back(row_of[static_cast<std::size_t>(c)]);
    const torch::Tensor labels =
        e.index_select(0, torch::tensor(rows, torch::kLong)).view({B, static_cast<std::int64_t>(task_.classes), -1});
    return (labels * first.unsqueeze(1)).sum(2) / options_.temperature;
  }

  /// Each example's cross-entropy [B] (0 for an unlabelled one).
  torch::Tensor example_loss_tensor(std::span<const std::size_t> batch) { return cross_entropy(logits(batch), batch); }
  /// The mean cross-entropy, with its graph (for back-propagation).
  torch::Tensor loss_tensor(std::span<const std::size_t> batch) { return example_loss_tensor(batch).mean(); }

  double loss(std::span<const std::size_t> batch) { return batch_loss(example_losses(batch)); }
  std::vector<ExampleLoss> example_losses(std::span<const std::size_t> batch) {
    torch::NoGradGuard no_grad;
    return losses_of(example_loss_tensor(batch));
  }
  std::vector<int> predict(std::span<const std::size_t> batch) {
    torch::NoGradGuard no_grad;
    return predictions_of(logits(batch));
  }
  /// Held-out loss and accuracy of the first n examples, one forward pass per chunk.
  Evaluation evaluate(std::size_t n = static_cast<std::size_t>(-1), std::size_t chunk = 64) {
    return evaluate_in_chunks(
        std::min(n, task_.examples.size()), chunk,
        [&](auto idx, std::vector<int>& p) {
          torch::NoGradGuard no_grad;
          const torch::Tensor l = logits(idx);
          p = predictions_of(l);
          return batch_loss(losses_of(cross_entropy(l, idx)));
        },
        [&](std::size_t i) { return task_.examples[i].label; });
  }

  /// Blocks over every parameter (the encoder's, then the head's), trainable as selected.
  std::vector<Block> parameters() const {
    std::vector<Block> out = blocks_of(params_, select_);
    for (auto& b : out) {
      b.flags.trainable = b.flags.trainable && trainable_by_default(b.name);
      if (b.name == "head.weight" || b.name == "pair_head.weight") b.flags.decay = false;  // as the Eigen heads
    }
    return out;
  }
  /// The trainable parameters, in module order (for LOMO, AdaLomo and the FO baselines).
  std::vector<NamedTensor> trainable_parameters() const {
    std::vector<NamedTensor> out;
    for (const auto& p : params_)
      if (p.second.requires_grad()) out.push_back(p);
    return out;
  }
  const std::vector<NamedTensor>& named_parameters() const noexcept { return params_; }

  std::size_t size() const noexcept { return task_.examples.size(); }
  std::size_t classes() const noexcept { return task_.classes; }
  int label(std::size_t i) const { return task_.examples.at(i).label; }
  BertEncoder& encoder() noexcept { return encoder_; }
  const bert::EncodedTask& task() const noexcept { return task_; }

 private:
  torch::Tensor cross_entropy(const torch::Tensor& logits, std::span<const std::size_t> batch) const {
    std::vector<std::int64_t> labels;
    std::vector<double> labelled;
    for (std::size_t i : batch) {
      labels.push_back(std::max(task_.examples.at(i).label, 0));
      labelled.push_back(task_.examples[i].label >= 0 ? 1.0 : 0.0);
    }
    const torch::Tensor ce = -torch::log_softmax(logits.to(torch::kDouble), 1)
                                  .gather(1, torch::tensor(labels, torch::kLong).unsqueeze(1))
                                  .squeeze(1);
    return ce * torch::tensor(labelled, torch::kDouble);
  }
  static std::vector<ExampleLoss> losses_of(const torch::Tensor& ce) {
    const torch::Tensor l = ce.contiguous();
    std::vector<ExampleLoss> out;
    for (std::int64_t b = 0; b < l.size(0); ++b) out.push_back({l[b].item<double>(), 1.0});
    return out;
  }
  static std::vector<int> predictions_of(const torch::Tensor& logits) {
    const torch::Tensor a = logits.argmax(1);
    std::vector<int> out;
    for (std::int64_t b = 0; b < a.size(0); ++b) out.push_back(static_cast<int>(a[b].item<std::int64_t>()));
    return out;
  }
  static bool trainable_by_default(const std::string& name) { return name.rfind("pooler.", 0) != 0; }

  BertEncoder encoder_;
  bert::ClassifierOptions options_;
  ParameterSelection select_;
  bert::EncodedTask task_;
  torch::Tensor head_;
  std::vector<NamedTensor> params_;
};

static_assert(zeroth::BackendWithPredictions<SentenceClassifier>);
static_assert(zeroth::BackendWithExampleLosses<SentenceClassifier>);

}  // namespace zeroth::libtorch
