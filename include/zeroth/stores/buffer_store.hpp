#pragma once
// BufferStore: parameters held in buffers that someone else owns (an LLM backend's tensors), as named blocks.
#include <algorithm>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/stores/block.hpp"

namespace zeroth {

/// Named blocks over external memory; the store never allocates or copies parameters.
///   zeroth::BufferStore store;
///   store.add("layers.0.wq", wq.data(), wq.size());
///   store.add("layers.0.norm", norm.data(), norm.size(), {.decay = false});
class BufferStore {
 public:
  /// Chunk length used to split blocks across threads (a multiple of the direction group, 64).
  static constexpr std::size_t kChunk = std::size_t{1} << 15;

  /// One unit of parallel work: elements [begin, end) of block `block`.
  struct Chunk {
    std::uint32_t block;
    std::size_t begin, end;
  };

  template <class T>
  BufferStore& add(std::string name, T* data, std::size_t size, BlockFlags flags = {},
                   std::vector<std::size_t> shape = {}) {
    return add_block(
        Block{std::move(name), static_cast<void*>(data), size, dtype_of<T>(), flags, std::move(shape), {}});
  }

  template <class T>
  BufferStore& add(std::string name, std::span<T> data, BlockFlags flags = {}) {
    return add(std::move(name), data.data(), data.size(), flags);
  }

  BufferStore& add_block(Block b) {
    detail::check_new_block(blocks_, b);
    blocks_.push_back(std::move(b));
    rebuild_chunks();
    return *this;
  }

  std::span<const Block> blocks() const noexcept { return blocks_; }
  std::span<Block> blocks() noexcept { return blocks_; }
  std::span<const Chunk> chunks() const noexcept { return chunks_; }

  /// Number of trainable elements (the dimension d of the problem).
  std::size_t dimension() const noexcept { return dimension_; }

  const Block& block(const std::string& name) const { return detail::find_block(blocks(), name); }

  /// Sets the box bounds of block `name` (float32/float64 only): the update sweeps keep its elements inside. Throws
  /// std::invalid_argument naming the problem (a size, a NaN, lower > upper, a 16-bit block).
  void set_bounds(const std::string& name, Bounds bounds) {
    Block& b = detail::find_block(blocks(), name);
    if (!bounds.empty() && b.dtype != DType::f32 && b.dtype != DType::f64)
      throw std::invalid_argument("zeroth: bounds need a float32 or float64 block ('" + name + "' is 16-bit)");
    if (auto e = detail::check_bounds(bounds.lower, bounds.upper, b.size, "block '" + name + "'"); !e.empty())
      throw std::invalid_argument("zeroth: " + e);
    b.bounds = std::move(bounds);
  }

  /// Marks a block trainable or frozen (for example to fine-tune only some layers).
  void set_flags(const std::string& name, BlockFlags flags) {
    detail::find_block(blocks(), name).flags = flags;
    rebuild_chunks();
  }

  /// Keeps training only the blocks whose name contains one of `only`'s fragments (every block when `only` is
  /// empty) and none of `frozen`'s; a block already frozen stays frozen. BitFit, the biases and norms of a BERT:
  /// store.train_only({"bias", "LayerNorm"}). Returns the new dimension().
  std::size_t train_only(const std::vector<std::string>& only, const std::vector<std::string>& frozen = {}) {
    auto any_in = [](const std::vector<std::string>& parts, const std::string& name) {
      return std::any_of(parts.begin(), parts.end(), [&](const auto& p) { return name.find(p) != name.npos; });
    };
    for (Block& b : blocks_)
      b.flags.trainable = b.flags.trainable && (only.empty() || any_in(only, b.name)) && !any_in(frozen, b.name);
    rebuild_chunks();
    return dimension_;
  }

 private:
  void rebuild_chunks() {
    chunks_.clear();
    dimension_ = 0;
    for (std::uint32_t i = 0; i < blocks_.size(); ++i) {
      const Block& b = blocks_[i];
      if (!b.flags.trainable) continue;
      dimension_ += b.size;
      for (std::size_t s = 0; s < b.size; s += kChunk) chunks_.push_back({i, s, std::min(b.size, s + kChunk)});
    }
  }

  std::vector<Block> blocks_;
  std::vector<Chunk> chunks_;
  std::size_t dimension_ = 0;
};

}  // namespace zeroth
