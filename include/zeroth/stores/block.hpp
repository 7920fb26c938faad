#pragma once
// A named, externally owned run of parameters: the unit a store is made of and a sweep works on.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/stores/dtype.hpp"

namespace zeroth {

/// What an optimizer may do with a block.
struct BlockFlags {
  bool trainable = true;  ///< perturbed and updated; frozen blocks are never touched
  bool decay = true;      ///< weight decay applies (MeZO exempts biases and norms)
};

/// A contiguous run of parameters owned by someone else.
struct Block {
  std::string name;
  void* data = nullptr;
  std::size_t size = 0;
  DType dtype = DType::f32;
  BlockFlags flags{};
  std::vector<std::size_t> shape{};  ///< informational (rows, cols for a matrix); empty for a vector

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
