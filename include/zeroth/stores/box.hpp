#pragma once
// Box bounds over a store's trainable coordinates (Options::lower_bounds/upper_bounds), split into per-block Bounds.
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/stores/buffer_store.hpp"

namespace zeroth {

/// Sets the bounds of `store`'s trainable blocks from bounds over its trainable coordinates in block order: each side
/// empty (unbounded), one value for all, or store.dimension() values. Throws std::invalid_argument naming the problem.
inline void set_box_bounds(BufferStore& store, const std::vector<double>& lower, const std::vector<double>& upper,
                           BoundMethod method = BoundMethod::project) {
  if (auto e = detail::check_bounds(lower, upper, store.dimension(), "Options"); !e.empty())
    throw std::invalid_argument("zeroth: " + e);
  auto part = [](const std::vector<double>& v, std::size_t at, std::size_t n) {
    return v.size() <= 1
               ? v
               : std::vector<double>(v.begin() + static_cast<long>(at), v.begin() + static_cast<long>(at + n));
  };
  std::size_t at = 0;
  for (const Block& b : store.blocks()) {
    if (!b.flags.trainable) continue;
    store.set_bounds(b.name, {part(lower, at, b.size), part(upper, at, b.size), method});
    at += b.size;
  }
}

/// Whether every trainable element lies within its block's bounds; else false with the first one outside described.
inline bool inside_bounds(const BufferStore& store, std::string* where = nullptr) {
  for (const Block& b : store.blocks()) {
    if (!b.flags.trainable || b.bounds.empty()) continue;
    for (std::size_t i = 0; i < b.size; ++i) {
      const double v = b.dtype == DType::f64 ? static_cast<const double*>(b.data)[i]
                                             : static_cast<double>(static_cast<const float*>(b.data)[i]);
      if (!(v >= b.bounds.lo(i) && v <= b.bounds.hi(i))) {
        if (where) {
          std::ostringstream s;
          s << "block '" << b.name << "' element " << i << " is " << v << ", bounds [" << b.bounds.lo(i) << ", "
            << b.bounds.hi(i) << "]";
          *where = s.str();
        }
        return false;
      }
    }
  }
  return true;
}

/// Whether any trainable block has bounds.
inline bool has_bounds(const BufferStore& store) {
  for (const Block& b : store.blocks())
    if (b.flags.trainable && !b.bounds.empty()) return true;
  return false;
}

/// Throws std::invalid_argument naming the first trainable element outside its block's bounds (a start outside the
/// box).
inline void check_inside_bounds(const BufferStore& store) {
  if (std::string where; !inside_bounds(store, &where))
    throw std::invalid_argument("zeroth: the starting point lies outside the bounds: " + where);
}

}  // namespace zeroth
