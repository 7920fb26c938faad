#pragma once
// SentenceClassifier: a BERT encoder as a zeroth backend for classification by sentence embeddings. A single text
// is scored against each class's label text by cosine similarity over a temperature (the label texts pass through
// the same encoder, so they move with it), or by a linear head on the frozen or trained embedding (a probe,
// initialised from the label texts' embeddings so that it starts at the zero-shot rule). A pair of texts is scored
// by the similarity of their two embeddings through a per-class affine map, initialised so that the first class
// (entailment) wins when the similarity exceeds 0.5.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/adapters/backend.hpp"
#include "zeroth/adapters/evaluation.hpp"
#include "zeroth/backends/bert/encoded_task.hpp"
#include "zeroth/backends/bert/model.hpp"
#include "zeroth/tasks/spec.hpp"
#include "zeroth/tokenizers/bert_tokenizer.hpp"

namespace zeroth::bert {

/// How class scores are formed.
struct ClassifierOptions {
  float temperature = 0.05f;     ///< logits are cosine similarities divided by this
  std::size_t max_length = 128;  ///< tokens per input, [CLS] and [SEP] included (longer ones are truncated)
  bool head = false;             ///< single texts: a linear head [classes x hidden] + bias instead of label texts
};


/// Satisfies zeroth::BackendWithPredictions over `items` (tasks::load's output).
class SentenceClassifier {
 public:
  SentenceClassifier(Encoder& encoder, const tokenizers::BertTokenizer& tokenizer, std::vector<tasks::Item> items,
                     ClassifierOptions options = {})
      : encoder_(encoder), options_(options) {
    if (!(options.temperature > 0)) throw std::invalid_argument("zeroth: the temperature must be positive");
    task_ = EncodedTask::encode(tokenizer, items, options_.max_length);
    if (task_.pairs) {  // per-class affine map of the similarity: entailment (class 0) = (s - 0.5) / T, others 0
      head_ = Parameter::zeros("pair_head.weight", {task_.classes, 2}, false);
      head_.f32[0] = 1.0f / options_.temperature;
      head_.f32[1] = -0.5f / options_.temperature;
    } else if (options_.head) {
      init_head();
    }
  }

  /// Copies the head of `other` (e.g. a training backend's, for its held-out twin).
  void share_head(SentenceClassifier& other) { head_source_ = &other; }

  /// The encoder's blocks (with LoRA: only the adapters trainable), then the head's when there is one.
  std::vector<Block> parameters() {
    auto out = encoder_.blocks();
    if (!head().f32.empty()) out.push_back(head().block(true));
    return out;
  }
  /// Blocks of the head alone (for head-only training; empty without a head).
  std::vector<Block> head_parameters() {
    if (head().f32.empty()) return {};
    return {head().block(true)};
  }

  double loss(std::span<const std::size_t> batch) { return batch_loss(example_losses(batch)); }
  /// Each example's cross-entropy (weight 1): loss() is their batch_loss().
  std::vector<ExampleLoss> example_losses(std::span<const std::size_t> batch) {
    std::vector<ExampleLoss> out;
    score(batch, nullptr, &out);
    return out;
  }
  std::vector<int> predict(std::span<const std::size_t> batch) {
    std::vector<int> p;
    score(batch, &p);
    return p;
  }

  /// Loss, accuracy and predictions over examples [0, n), in chunks of `chunk`.
  Evaluation evaluate(std::size_t n = static_cast<std::size_t>(-1), std::size_t chunk = 64) {
    return evaluate_in_chunks(
        std::min(n, task_.examples.size()), chunk, [&](auto idx, std::vector<int>& p) { return score(idx, &p); },
        [&](std::size_t i) { return task_.examples[i].label; });
  }

  std::size_t size() const noexcept { return task_.examples.size(); }
  std::size_t classes() const noexcept { return task_.classes; }
  int label(std::size_t i) const { return task_.examples.at(i).label; }
  bool pairs() const noexcept { return task_.pairs; }
  const EncodedTask& task() const noexcept { return task_; }
  Encoder& encoder() noexcept { return encoder_; }
  /// The head ([classes x hidden] weights then biases for single texts; [classes x 2] for pairs); empty when none.
  Parameter& head() { return head_source_ ? head_source_->head() : head_; }

  /// Sentence embeddings of the inputs of examples `batch` (the first texts for pairs), [batch x hidden].
  RowMatrix embeddings(std::span<const std::size_t> batch) const {
    std::vector<Sequence> seqs;
    for (std::size_t i : batch) seqs.push_back(task_.examples.at(i).input);
    return encoder_.embed(seqs);
  }
  /// The label texts' embeddings [classes x hidden] (tasks whose label texts are the same for every example).
  RowMatrix label_embeddings() { return encoder_.embed(task_.label_sequences()); }

 private:
  // Head rows = label embeddings (unit length when normalised) / temperature, biases 0: the zero-shot rule.
  void init_head() {
    const RowMatrix labels = label_embeddings();
    const auto H = static_cast<std::size_t>(labels.cols());
    head_ = Parameter::zeros("head.weight", {task_.classes, H + 1}, false);
    for (std::size_t c = 0; c < task_.classes; ++c) {
      const auto e = labels.row(static_cast<Eigen::Index>(c));
      const float norm = std::max(e.norm(), 1e-12f);
      for (std::size_t j = 0; j < H; ++j)
        head_.f32[c * (H + 1) + j] = e(static_cast<Eigen::Index>(j)) / norm / options_.temperature;
    }
  }

  // Mean cross-entropy over `batch`; fills predictions (argmax, the first of ties) when asked.
  double score(std::span<const std::size_t> batch, std::vector<int>* pred, std::vector<ExampleLoss>* each = nullptr) {
    std::vector<Sequence> seqs;
    std::map<int, Eigen::Index> cand_row;  // candidate index -> row of the embeddings
    for (std::size_t i : batch) seqs.push_back(task_.examples.at(i).input);
    if (task_.pairs)
      for (std::size_t i : batch) seqs.push_back(task_.examples[i].second);
    const bool by_labels = !task_.pairs && head().f32.empty();
    if (by_labels)
      for (std::size_t i : batch)
        for (int c : task_.examples[i].candidates)
          if (cand_row.emplace(c, static_cast<Eigen::Index>(seqs.size())).second)
            seqs.push_back(task_.candidates[static_cast<std::size_t>(c)]);
    RowMatrix e = encoder_.embed(seqs);
    for (Eigen::Index r = 0; r < e.rows(); ++r) e.row(r) /= std::max(e.row(r).norm(), 1e-12f);  // cosines
    const auto B = static_cast<Eigen::Index>(batch.size());
    const Parameter& h = head();
    double total = 0;
    if (pred) pred->clear();
    std::vector<double> logits(task_.classes);
    for (Eigen::Index b = 0; b < B; ++b) {
      const EncodedTask::Example& it = task_.examples[batch[static_cast<std::size_t>(b)]];
      for (std::size_t c = 0; c < task_.classes; ++c) {
        if (task_.pairs) {
          const double s = e.row(b).dot(e.row(B + b));
          logits[c] = h.f32[2 * c] * s + h.f32[2 * c + 1];
        } else if (by_labels) {
          logits[c] = e.row(b).dot(e.row(cand_row.at(it.candidates[c]))) / options_.temperature;
        } else {
          const auto H = e.cols();
          logits[c] = e.row(b).dot(Eigen::Map<const Eigen::RowVectorXf>(h.f32.data() + c * (H + 1), H)) +
                      h.f32[c * (H + 1) + H];
        }
      }
      const double mx = *std::max_element(logits.begin(), logits.end());
      double z = 0;
      for (double v : logits) z += std::exp(v - mx);
      const double l = it.label >= 0 ? -(logits[static_cast<std::size_t>(it.label)] - mx - std::log(z)) : 0.0;
      total += l;
      if (each) each->push_back({l, 1.0});
      if (pred) pred->push_back(static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    }
    return total / static_cast<double>(batch.size());
  }

  Encoder& encoder_;
  ClassifierOptions options_;
  EncodedTask task_;
  Parameter head_;
  SentenceClassifier* head_source_ = nullptr;
};

static_assert(zeroth::BackendWithPredictions<SentenceClassifier>);
static_assert(zeroth::BackendWithExampleLosses<SentenceClassifier>);

}  // namespace zeroth::bert
