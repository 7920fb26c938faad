#pragma once
// A named, externally owned run of parameters: the unit a store is made of and a sweep works on.
#include <cstddef>
#include <cstdint>
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

}  // namespace zeroth
