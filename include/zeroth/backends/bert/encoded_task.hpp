#pragma once
// A task's examples tokenized for an encoder: what both sentence classifiers (the Eigen backend's and LibTorch's,
// zeroth/backends/torch/sentence_classifier.hpp) start from.
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/backends/bert/model.hpp"
#include "zeroth/tasks/spec.hpp"
#include "zeroth/tokenizers/bert_tokenizer.hpp"

namespace zeroth::bert {

/// Each example's input (and second text, for a pair), its label, and its label texts as indices into `candidates`,
/// the distinct label texts (encoded once: most tasks share them).
struct EncodedTask {
  struct Example {
    Sequence input, second;
    std::vector<int> candidates;  // indices into EncodedTask::candidates
    int label = -1;
  };
  bool pairs = false;
  std::size_t classes = 0;
  std::vector<Example> examples;
  std::vector<Sequence> candidates;

  /// Tokenizes `items` (tasks::load's output) to `max_length` tokens each; throws std::invalid_argument naming the
  /// line of an example whose form (one text or a pair, the number of label texts) differs from the first's.
  static EncodedTask encode(const tokenizers::BertTokenizer& tokenizer, const std::vector<tasks::Item>& items,
                            std::size_t max_length) {
    if (items.empty()) throw std::invalid_argument("zeroth: SentenceClassifier needs at least one example");
    EncodedTask t;
    t.pairs = !items.front().text_b.empty();
    t.classes = items.front().candidates.size();
    std::map<std::string, int> ids;
    auto seq = [&](const std::string& text) {
      const auto e = tokenizer.encode(text, max_length);
      return Sequence{e.ids, e.type_ids};
    };
    for (const auto& it : items) {
      if (it.text_b.empty() == t.pairs || it.candidates.size() != t.classes)
        throw std::invalid_argument("zeroth: every example needs the same form (one text or a pair) and " +
                                    std::to_string(t.classes) + " label texts (line " + std::to_string(it.line) + ")");
      Example x;
      x.label = it.label;
      x.input = seq(it.text);
      if (t.pairs) x.second = seq(it.text_b);
      for (const auto& c : it.candidates) {
        auto [pos, fresh] = ids.emplace(c, static_cast<int>(t.candidates.size()));
        if (fresh) t.candidates.push_back(seq(c));
        x.candidates.push_back(pos->second);
      }
      t.examples.push_back(std::move(x));
    }
    if (t.classes < 2) throw std::invalid_argument("zeroth: a classifier needs at least 2 classes");
    return t;
  }

  /// Throws unless every example has the same label texts (a head needs them fixed).
  void require_fixed_candidates() const {
    for (const auto& x : examples)
      if (x.candidates != examples.front().candidates)
        throw std::invalid_argument("zeroth: a head needs the same label texts for every example");
  }
  /// The label texts of the first example (the fixed ones, for a head).
  std::vector<Sequence> label_sequences() const {
    require_fixed_candidates();
    std::vector<Sequence> out;
    for (int c : examples.front().candidates) out.push_back(candidates[static_cast<std::size_t>(c)]);
    return out;
  }
};

}  // namespace zeroth::bert
