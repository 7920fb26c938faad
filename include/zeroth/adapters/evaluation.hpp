#pragma once
// Held-out evaluation of a classification backend: loss and accuracy over examples in chunks, with the predictions.
#include <algorithm>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

namespace zeroth {

/// Loss and accuracy over some examples, with their number and (for classifiers) the predictions in order.
struct Evaluation {
  double loss = 0, accuracy = 0;
  std::size_t examples = 0;
  std::vector<int> predictions;
};

/// Scores examples [0, n) in chunks of `chunk`: `score(indices, predictions)` returns the chunk's mean loss and fills
/// its predictions; `label(i)` is example i's class. The loss is weighted by examples.
///   return zeroth::evaluate_in_chunks(n, 64, [&](auto idx, auto& p) { return score(idx, &p); },
///                                     [&](std::size_t i) { return label(i); });
template <class Score, class Label>
Evaluation evaluate_in_chunks(std::size_t n, std::size_t chunk, Score&& score, Label&& label) {
  if (chunk == 0) throw std::invalid_argument("zeroth: evaluate needs a chunk of at least 1 example");
  Evaluation ev;
  std::vector<std::size_t> idx;
  std::vector<int> pred;
  for (std::size_t s = 0; s < n; s += chunk) {
    idx.clear();
    for (std::size_t i = s; i < std::min(n, s + chunk); ++i) idx.push_back(i);
    ev.loss += score(std::span<const std::size_t>(idx), pred) * static_cast<double>(idx.size());
    for (std::size_t j = 0; j < idx.size(); ++j) ev.accuracy += pred[j] == label(idx[j]);
    ev.predictions.insert(ev.predictions.end(), pred.begin(), pred.end());
  }
  ev.examples = n;
  if (n) {
    ev.loss /= static_cast<double>(n);
    ev.accuracy /= static_cast<double>(n);
  }
  return ev;
}

}  // namespace zeroth
