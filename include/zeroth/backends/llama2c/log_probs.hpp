#pragma once
// Per-token log-probabilities of target tokens (log-softmax gathered): the quantity a fine-tuning loss needs.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "model.hpp"

namespace zeroth::llama2c {

/// log p(targets[b][t] | inputs[b][0..t]) for every position; a negative target (padding) gives 0. With `top1`, also
/// whether each target is the most likely token, the first of tied ones (1 or 0; 0 for padding).
inline std::vector<Eigen::VectorXf> target_log_probs(const Model& model, const std::vector<std::vector<int>>& inputs,
                                                     const std::vector<std::vector<int>>& targets,
                                                     std::vector<Eigen::VectorXf>* top1 = nullptr) {
  if (inputs.size() != targets.size()) throw std::invalid_argument("zeroth: need one target sequence per input");
  for (std::size_t b = 0; b < inputs.size(); ++b)
    if (inputs[b].size() != targets[b].size())
      throw std::invalid_argument("zeroth: each target sequence must be as long as its input");
  const int vocab = model.config().vocab_size;
  std::vector<int> flat_targets;
  for (const auto& t : targets) flat_targets.insert(flat_targets.end(), t.begin(), t.end());
  for (int t : flat_targets)  // checked here: an exception must not escape the parallel region below
    if (t >= vocab) throw std::out_of_range("zeroth: target token " + std::to_string(t) + " is outside the vocabulary");
  Eigen::VectorXf flat(static_cast<Eigen::Index>(flat_targets.size()));
  Eigen::VectorXf hits = Eigen::VectorXf::Zero(top1 ? flat.size() : 0);
  model.forward_groups(inputs, [&](Eigen::Index first_row, const RowMatrix& hidden) {
    constexpr Eigen::Index chunk = 256;  // bounds the logits held at once to chunk x vocab_size per thread
    for (Eigen::Index r0 = 0; r0 < hidden.rows(); r0 += chunk) {
      const Eigen::Index rows = std::min(chunk, hidden.rows() - r0);
      const RowMatrix logits = model.classify(hidden.middleRows(r0, rows));
      for (Eigen::Index r = 0; r < rows; ++r) {
        const int target = flat_targets[static_cast<std::size_t>(first_row + r0 + r)];
        if (target < 0) {
          flat(first_row + r0 + r) = 0.0f;
          continue;
        }
        const float max = logits.row(r).maxCoeff();
        const float log_sum = std::log((logits.row(r).array() - max).exp().sum());
        flat(first_row + r0 + r) = logits(r, target) - max - log_sum;
        if (top1) {
          Eigen::Index best = 0;
          logits.row(r).maxCoeff(&best);  // the first of tied maxima
          hits(first_row + r0 + r) = best == target ? 1.0f : 0.0f;
        }
      }
    }
  });
  std::vector<Eigen::VectorXf> out;
  if (top1) top1->clear();
  Eigen::Index row = 0;
  for (const auto& t : targets) {
    const auto T = static_cast<Eigen::Index>(t.size());
    out.emplace_back(flat.segment(row, T));
    if (top1) top1->emplace_back(hits.segment(row, T));
    row += T;
  }
  return out;
}

/// Log-probability of each next token of each sequence: entry t is log p(s[t+1] | s[0..t]) (length - 1 entries).
inline std::vector<Eigen::VectorXf> next_token_log_probs(const Model& model,
                                                         const std::vector<std::vector<int>>& sequences) {
  std::vector<std::vector<int>> inputs, targets;
  for (const auto& s : sequences) {
    const auto n = s.empty() ? 0 : s.size() - 1;
    inputs.emplace_back(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
    targets.emplace_back(s.begin() + (s.empty() ? 0 : 1), s.end());
  }
  return target_log_probs(model, inputs, targets);
}

}  // namespace zeroth::llama2c
