#pragma once
// Seeded, platform-independent shuffling, k-shot sampling per class, and simple subsets.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "example.hpp"

namespace zeroth::data {

/// Uniform integer in [0, n) by rejection (no modulo bias); unlike std::uniform_int_distribution, the
/// result is fixed by the standard-specified std::mt19937_64 sequence, so it is the same on every platform.
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("zeroth: uniform_below: n must be positive");
  const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n: draws below it would bias the remainder
  for (;;)
    if (std::uint64_t x = rng(); x >= threshold) return x % n;
}

/// Moves a uniformly random choice of `count` elements of `items` to its front, in random order
/// (the first `count` steps of Fisher–Yates); `count` is clamped to the size.
template <class T>
void partial_shuffle(std::span<T> items, std::size_t count, std::mt19937_64& rng) {
  const std::size_t n = items.size();
  for (std::size_t i = 0; i < count && i + 1 < n; ++i) std::swap(items[i], items[i + uniform_below(rng, n - i)]);
}

/// Shuffles `items` with Fisher–Yates driven by `rng` (not std::shuffle, whose output varies by library).
template <class T>
void shuffle(std::span<T> items, std::mt19937_64& rng) {
  partial_shuffle(items, items.size(), rng);
}

/// The indices 0..n-1 in an order fixed by `seed`.
inline std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(seed);
  shuffle(std::span(p), rng);
  return p;
}

/// Number of examples of each class 0..num_classes-1; throws std::invalid_argument on any other label.
inline std::vector<std::size_t> class_counts(std::span<const Example> data, int num_classes) {
  std::vector<std::size_t> counts(static_cast<std::size_t>(num_classes > 0 ? num_classes : 0));
  for (const Example& ex : data) {
    if (ex.label < 0 || ex.label >= num_classes)
      throw std::invalid_argument("zeroth: example from line " + std::to_string(ex.line) + " has label " +
                                  std::to_string(ex.label) + ", outside [0, " + std::to_string(num_classes) + ")");
    ++counts[static_cast<std::size_t>(ex.label)];
  }
  return counts;
}

/// A k-shot sample: the chosen examples and where they came from.
struct KShot {
  std::vector<Example> examples;       ///< The sample, classes interleaved in an order fixed by the seed.
  std::vector<std::size_t> indices;    ///< Position of each chosen example in the source, parallel to `examples`.
  std::vector<std::size_t> per_class;  ///< How many of each class were drawn: k, or all there were when fewer.
  std::size_t k = 0;                   ///< The k asked for.
  /// Whether every class got its full k.
  bool complete() const {
    for (std::size_t c : per_class)
      if (c < k) return false;
    return true;
  }
};

/// Draws `k` examples of each class without replacement (all of a class that has fewer; see `per_class`),
/// deterministically for a given `seed` and input. Throws std::invalid_argument on unlabelled examples.
///   auto shots = zeroth::data::sample_k_shot(train, num_classes(Task::sst2), 16, 42);  // 32 examples
inline KShot sample_k_shot(std::span<const Example> data, int num_classes, std::size_t k, std::uint64_t seed) {
  KShot out;
  out.k = k;
  out.per_class = class_counts(data, num_classes);
  std::vector<std::vector<std::size_t>> by_class(out.per_class.size());
  for (std::size_t i = 0; i < data.size(); ++i) by_class[static_cast<std::size_t>(data[i].label)].push_back(i);
  std::mt19937_64 rng(seed);
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    auto& idx = by_class[c];
    out.per_class[c] = std::min(k, idx.size());
    partial_shuffle(std::span(idx), out.per_class[c], rng);
    out.indices.insert(out.indices.end(), idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(out.per_class[c]));
  }
  shuffle(std::span(out.indices), rng);
  out.examples.reserve(out.indices.size());
  for (std::size_t i : out.indices) out.examples.push_back(data[i]);
  return out;
}

/// The first `n` examples (all of them when there are fewer), in order.
inline std::vector<Example> take_first(std::span<const Example> data, std::size_t n) {
  return {data.begin(), data.begin() + static_cast<std::ptrdiff_t>(std::min(n, data.size()))};
}

/// Two disjoint parts of a data set.
struct Split {
  std::vector<Example> first;   ///< `n_first` examples.
  std::vector<Example> second;  ///< The rest.
};

/// Shuffles `data` with `seed` and cuts it after `n_first` examples; throws std::invalid_argument if n_first > size.
///   auto [train, held_out] = zeroth::data::split(all, 1000, 7);
inline Split split(std::span<const Example> data, std::size_t n_first, std::uint64_t seed) {
  if (n_first > data.size())
    throw std::invalid_argument("zeroth: split: n_first " + std::to_string(n_first) + " exceeds the " +
                                std::to_string(data.size()) + " examples");
  Split out;
  out.first.reserve(n_first);
  out.second.reserve(data.size() - n_first);
  auto order = permutation(data.size(), seed);
  for (std::size_t i = 0; i < order.size(); ++i) (i < n_first ? out.first : out.second).push_back(data[order[i]]);
  return out;
}

}  // namespace zeroth::data
