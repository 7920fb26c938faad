#pragma once
// Sampling over rendered tasks::Items: class counts, the majority baseline, k-shot samples (the same selection as
// data::sample_k_shot) and stratified held-out splits.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/data/sampling.hpp"
#include "zeroth/tasks/spec.hpp"

namespace zeroth::tasks {

namespace detail {
/// Examples carrying only the items' labels and lines, so that data's samplers choose for items exactly as they do
/// for examples.
inline std::vector<data::Example> labels_only(std::span<const Item> items) {
  std::vector<data::Example> out(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    out[i].label = items[i].label;
    out[i].line = items[i].line;
  }
  return out;
}
}  // namespace detail

/// Number of items of each class 0..num_classes-1; throws std::invalid_argument on any other label (unlabelled too).
inline std::vector<std::size_t> class_counts(std::span<const Item> items, int num_classes) {
  return data::class_counts(detail::labels_only(items), num_classes);
}

/// The majority class (the lowest index among ties) and the accuracy of always predicting it.
struct Baseline {
  int label = 0;
  double accuracy = 0;
};

/// The majority-class baseline of `counts` (0 accuracy when all are 0); throws std::invalid_argument when empty.
///   auto [cls, acc] = zeroth::tasks::majority_baseline(class_counts(dev, 2));  // SST-2 dev: 1, 0.509
inline Baseline majority_baseline(std::span<const std::size_t> counts) {
  if (counts.empty()) throw std::invalid_argument("zeroth: majority_baseline: no classes");
  std::size_t total = 0, best = 0;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    total += counts[c];
    if (counts[c] > counts[best]) best = c;
  }
  return {static_cast<int>(best), total ? static_cast<double>(counts[best]) / static_cast<double>(total) : 0.0};
}

/// A k-shot sample of items and where they came from.
struct KShot {
  std::vector<Item> items;             ///< the sample, classes interleaved in an order fixed by the seed
  std::vector<std::size_t> indices;    ///< position of each chosen item in the source, parallel to `items`
  std::vector<std::size_t> per_class;  ///< how many of each class were drawn: k, or all there were when fewer
  std::size_t k = 0;                   ///< the k asked for
  /// Whether every class got its full k.
  bool complete() const {
    for (std::size_t c : per_class)
      if (c < k) return false;
    return true;
  }
};

/// Draws `k` items of each class without replacement, choosing the same positions as data::sample_k_shot on the same
/// labels and seed (it is that function, run on the labels). Throws std::invalid_argument on unlabelled items.
///   auto shots = zeroth::tasks::sample_k_shot(train, spec.num_classes(), 16, 42);
inline KShot sample_k_shot(std::span<const Item> items, int num_classes, std::size_t k, std::uint64_t seed) {
  const data::KShot chosen = data::sample_k_shot(detail::labels_only(items), num_classes, k, seed);
  KShot out{{}, chosen.indices, chosen.per_class, chosen.k};
  out.items.reserve(out.indices.size());
  for (std::size_t i : out.indices) out.items.push_back(items[i]);
  return out;
}

/// Two disjoint parts of a labelled set, each in the source's order.
struct StratifiedSplit {
  std::vector<Item> train;
  std::vector<Item> heldout;
};

/// Holds out round(fraction_heldout * n_c) items of each class c, chosen by a permutation seeded with `seed` (one
/// generator, classes in index order), so that both parts keep the class proportions; deterministic for a given
/// input and seed. Throws std::invalid_argument on unlabelled items or a fraction outside [0, 1].
///   auto [train, heldout] = zeroth::tasks::stratified_split(all, 0.1, 7);
inline StratifiedSplit stratified_split(std::span<const Item> items, double fraction_heldout, std::uint64_t seed) {
  if (!(fraction_heldout >= 0.0 && fraction_heldout <= 1.0))
    throw std::invalid_argument("zeroth: stratified_split: 'fraction_heldout' must be in [0, 1] (got " +
                                std::to_string(fraction_heldout) + ")");
  int classes = 0;
  for (const Item& it : items) classes = std::max(classes, it.label + 1);
  class_counts(items, classes);  // rejects unlabelled items
  std::vector<std::vector<std::size_t>> by_class(static_cast<std::size_t>(classes));
  for (std::size_t i = 0; i < items.size(); ++i) by_class[static_cast<std::size_t>(items[i].label)].push_back(i);
  std::vector<char> held(items.size(), 0);
  std::mt19937_64 rng(seed);
  for (auto& idx : by_class) {
    const auto n = static_cast<std::size_t>(fraction_heldout * static_cast<double>(idx.size()) + 0.5);
    data::partial_shuffle(std::span(idx), n, rng);
    for (std::size_t j = 0; j < n; ++j) held[idx[j]] = 1;
  }
  StratifiedSplit out;
  for (std::size_t i = 0; i < items.size(); ++i) (held[i] ? out.heldout : out.train).push_back(items[i]);
  return out;
}

}  // namespace zeroth::tasks
