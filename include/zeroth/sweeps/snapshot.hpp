#pragma once
// Snapshot: a copy of the trainable blocks taken inside the first sweep of a step, for bit-exact rollback.
#include <cstddef>
#include <cstring>
#include <vector>

#include "zeroth/stores/buffer_store.hpp"

namespace zeroth {

/// One byte buffer per block (empty for frozen blocks); memory = the trainable parameters' bytes.
class Snapshot {
 public:
  Snapshot() = default;
  explicit Snapshot(const BufferStore& store) {
    data_.resize(store.blocks().size());
    for (std::size_t i = 0; i < data_.size(); ++i)
      if (store.blocks()[i].flags.trainable) data_[i].resize(store.blocks()[i].bytes());
  }

  void* block(std::size_t i) noexcept { return data_[i].data(); }
  bool empty() const noexcept { return data_.empty(); }
  std::size_t bytes() const noexcept {
    std::size_t n = 0;
    for (const auto& d : data_) n += d.size();
    return n;
  }

 private:
  std::vector<std::vector<std::byte>> data_;
};

}  // namespace zeroth
