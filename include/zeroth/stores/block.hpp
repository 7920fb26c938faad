#pragma once
// A named, externally owned run of parameters: the unit a store is made of and a sweep works on.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <limits>
#include <vector>

#include "zeroth/stores/dtype.hpp"

namespace zeroth {

/// What an optimizer may do with a block.
struct BlockFlags {
  bool trainable = true;  ///< perturbed and updated; frozen blocks are never touched
  bool decay = true;      ///< weight decay applies (MeZO exempts biases and norms)
};

/// How an update that leaves the box is brought back: clipped to the bound, or mirrored at it (folded into the box).
enum class BoundMethod { project, reflect };

/// Box bounds of a block's elements. Each side is empty (unbounded), one value for every element, or one per element.
/// The update sweeps of a step bring the parameters back into the box (Run applies them; zero cost when empty).
struct Bounds {
  std::vector<double> lower{};
  std::vector<double> upper{};
  BoundMethod method = BoundMethod::project;

  bool empty() const noexcept { return lower.empty() && upper.empty(); }
  double lo(std::size_t i) const noexcept {
    return lower.empty() ? -std::numeric_limits<double>::infinity() : lower[lower.size() == 1 ? 0 : i];
  }
  double hi(std::size_t i) const noexcept {
    return upper.empty() ? std::numeric_limits<double>::infinity() : upper[upper.size() == 1 ? 0 : i];
  }

  /// v brought into [lo(i), hi(i)] (NaN stays NaN: the run's non-finite check sees it).
  double apply(std::size_t i, double v) const noexcept {
    const double l = lo(i), h = hi(i);
    if (!(v < l || v > h)) return v;
    if (method == BoundMethod::project) return v < l ? l : h;
    if (std::isfinite(l) && std::isfinite(h)) {  // fold with period 2 (h - l)
      const double w = h - l;
      if (!(w > 0)) return l;
      double t = std::fmod(v - l, 2 * w);
      if (t < 0) t += 2 * w;
      return std::clamp(t <= w ? l + t : h - (t - w), l, h);
    }
    return v < l ? l + (l - v) : h - (v - h);  // one side is unbounded: one mirror image is inside
  }
};

namespace detail {
/// Checks bounds for `n` elements (n = 0: sizes unknown yet); returns "" or the problem, naming `where`.
inline std::string check_bounds(const std::vector<double>& lower, const std::vector<double>& upper, std::size_t n,
                                const std::string& where) {
  for (const auto* side : {&lower, &upper}) {
    const char* name = side == &lower ? "lower_bounds" : "upper_bounds";
    if (n != 0 && side->size() > 1 && side->size() != n)
      return "'" + std::string(name) + "' of " + where + " has " + std::to_string(side->size()) +
             " values: give one, or one per element (" + std::to_string(n) + ")";
    for (std::size_t i = 0; i < side->size(); ++i)
      if (std::isnan((*side)[i]))
        return "'" + std::string(name) + "[" + std::to_string(i) + "]' of " + where + " is NaN";
  }
  if (lower.size() > 1 && upper.size() > 1 && lower.size() != upper.size())
    return "'lower_bounds' and 'upper_bounds' of " + where + " differ in size (" + std::to_string(lower.size()) +
           " and " + std::to_string(upper.size()) + ")";
  const std::size_t m = std::max(lower.size(), upper.size());
  if (!lower.empty() && !upper.empty())
    for (std::size_t i = 0; i < m; ++i) {
      const double l = lower[lower.size() == 1 ? 0 : i], h = upper[upper.size() == 1 ? 0 : i];
      if (l > h)
        return "'lower_bounds[" + std::to_string(i) + "]' of " + where + " exceeds 'upper_bounds[" +
               std::to_string(i) + "]' (" + std::to_string(l) + " > " + std::to_string(h) + ")";
    }
  return "";
}
}  // namespace detail

/// A contiguous run of parameters owned by someone else.
struct Block {
  std::string name;
  void* data = nullptr;
  std::size_t size = 0;
  DType dtype = DType::f32;
  BlockFlags flags{};
  std::vector<std::size_t> shape{};  ///< informational (rows, cols for a matrix); empty for a vector
  Bounds bounds{};                   ///< box bounds of the elements (float32/float64 blocks only); empty: none

  std::size_t bytes() const noexcept { return size * size_of(dtype); }
};

namespace detail {

/// What every store checks before taking block `b`: a name, data unless empty, a name not yet in `blocks`.
inline void check_new_block(std::span<const Block> blocks, const Block& b) {
  if (b.name.empty()) throw std::invalid_argument("zeroth: a block needs a name");
  if (b.data == nullptr && b.size > 0) throw std::invalid_argument("zeroth: block '" + b.name + "' has null data");
  if (std::any_of(blocks.begin(), blocks.end(), [&](const Block& o) { return o.name == b.name; }))
    throw std::invalid_argument("zeroth: duplicate block name '" + b.name + "'");
}

/// The block named `name` in a store's blocks; throws std::out_of_range naming it.
template <class B>
B& find_block(std::span<B> blocks, const std::string& name) {
  for (auto& b : blocks)
    if (b.name == name) return b;
  throw std::out_of_range("zeroth: no block named '" + name + "'");
}

}  // namespace detail

}  // namespace zeroth
