#pragma once
// DeviceStore: parameters in GPU memory that someone else owns (a backend's device tensors), as named blocks; and
// DeviceSnapshot, the device copy of the trainable blocks that makes a rollback bit-exact.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "zeroth/cuda/check.cuh"
#include "zeroth/cuda/detail/element.cuh"
#include "zeroth/stores/block.hpp"

namespace zeroth::gpu {

/// Named blocks over external device memory (float32, bfloat16 or float16), with the flags of a BufferStore. The
/// store never allocates or copies parameters; it keeps a small device table describing the trainable blocks.
///   zeroth::gpu::DeviceStore store;
///   store.add("layers.0.wq", wq_device_ptr, n);                       // float*
///   store.add("layers.0.norm", norm_device_ptr, d, {.decay = false});  // zeroth::bfloat16*
class DeviceStore {
 public:
  /// Element types in launch order; a sweep makes one launch per type present.
  static constexpr DType kTypes[3] = {DType::f32, DType::bf16, DType::f16};

  DeviceStore() = default;
  DeviceStore(const DeviceStore&) = delete;
  DeviceStore& operator=(const DeviceStore&) = delete;
  DeviceStore(DeviceStore&& o) noexcept { *this = std::move(o); }
  DeviceStore& operator=(DeviceStore&& o) noexcept {
    if (this != &o) {
      release();
      blocks_ = std::move(o.blocks_);
      segments_ = std::move(o.segments_);
      std::copy(o.groups_, o.groups_ + 3, groups_);
      dimension_ = o.dimension_;
      snapshot_bytes_ = o.snapshot_bytes_;
      table_ = std::exchange(o.table_, nullptr);
      table_capacity_ = std::exchange(o.table_capacity_, 0);
      dirty_ = std::exchange(o.dirty_, true);
    }
    return *this;
  }
  ~DeviceStore() { release(); }

  template <class T>
  DeviceStore& add(std::string name, T* device_data, std::size_t size, BlockFlags flags = {},
                   std::vector<std::size_t> shape = {}) {
    return add_block(Block{std::move(name), static_cast<void*>(device_data), size, dtype_of<T>(), flags,
                           std::move(shape), {}});
  }

  /// Adds a block; throws std::invalid_argument for an empty or duplicate name, a float64 block or host memory.
  DeviceStore& add_block(Block b) {
    zeroth::detail::check_new_block(blocks_, b);
    if (b.dtype == DType::f64)
      throw std::invalid_argument("zeroth: block '" + b.name + "' is float64; a DeviceStore holds f32, bf16, f16");
    if (b.size > 0) {
      cudaPointerAttributes attr{};
      ZEROTH_CUDA_CHECK(cudaPointerGetAttributes(&attr, b.data));
      if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
        throw std::invalid_argument("zeroth: block '" + b.name + "' is not device memory (DeviceStore::add)");
    }
    blocks_.push_back(std::move(b));
    rebuild();
    return *this;
  }

  std::span<const Block> blocks() const noexcept { return blocks_; }
  /// Number of trainable elements (the dimension d of the problem).
  std::size_t dimension() const noexcept { return dimension_; }
  /// Bytes a DeviceSnapshot of this store holds (the trainable blocks, each 256-byte aligned).
  std::size_t snapshot_bytes() const noexcept { return snapshot_bytes_; }

  const Block& block(const std::string& name) const { return zeroth::detail::find_block(blocks(), name); }

  /// Marks a block trainable or frozen. A DeviceSnapshot made before must be made again.
  void set_flags(const std::string& name, BlockFlags flags) {
    zeroth::detail::find_block(std::span<Block>(blocks_), name).flags = flags;
    rebuild();
  }

  /// The trainable blocks of one element type, as the kernels see them; tiles are kTile elements.
  struct Group {
    const detail::Segment* segments = nullptr;  ///< device pointer
    std::uint32_t count = 0;
    std::uint64_t tiles = 0;
  };

  /// Host copies of the segments (all types, in launch order) and the totals the norm reduction needs.
  std::span<const detail::Segment> segments() const noexcept { return segments_; }
  std::uint64_t counters() const noexcept {
    return segments_.empty() ? 0 : segments_.back().first_counter + (segments_.back().size + 63) / 64 * 16;
  }

  /// The device table (uploaded on first use after a change) for element type `t` (f32, bf16 or f16).
  Group group(DType t) {
    upload();
    const auto& g = groups_[type_index(t)];
    return {g.count ? device_segments() + g.first : nullptr, g.count, g.tiles};
  }
  /// All trainable segments on the device, in launch order.
  const detail::Segment* device_segments() {
    upload();
    return reinterpret_cast<const detail::Segment*>(static_cast<char*>(table_) + kCounterBytes);
  }
  /// An 8-byte device counter the sweeps use for vanished elements.
  unsigned long long* device_counter() {
    upload();
    return static_cast<unsigned long long*>(table_);
  }

 private:
  static constexpr std::size_t kCounterBytes = 64;
  struct GroupInfo {
    std::uint32_t first = 0, count = 0;
    std::uint64_t tiles = 0;
  };

  static int type_index(DType t) { return t == DType::f32 ? 0 : t == DType::bf16 ? 1 : 2; }

  void rebuild() {
    segments_.clear();
    dimension_ = 0;
    snapshot_bytes_ = 0;
    std::uint64_t counter = 0, trainable_elements = 0;
    for (int ti = 0; ti < 3; ++ti) {
      GroupInfo& g = groups_[ti];
      g = {static_cast<std::uint32_t>(segments_.size()), 0, 0};
      for (std::uint32_t i = 0; i < blocks_.size(); ++i) {
        const Block& b = blocks_[i];
        if (!b.flags.trainable || b.dtype != kTypes[ti] || b.size == 0) continue;
        segments_.push_back(
            {b.data, b.size, snapshot_bytes_, g.tiles, counter, i, b.flags.decay ? 1u : 0u, trainable_elements});
        trainable_elements += b.size;
        g.tiles += (b.size + detail::kTile - 1) / detail::kTile;
        counter += (b.size + 63) / 64 * 16;
        snapshot_bytes_ += (b.bytes() + 255) / 256 * 256;
        ++g.count;
      }
    }
    for (const Block& b : blocks_)
      if (b.flags.trainable) dimension_ += b.size;
    dirty_ = true;
  }

  void upload() {
    if (!dirty_) return;
    const std::size_t need = kCounterBytes + segments_.size() * sizeof(detail::Segment);
    if (need > table_capacity_) {
      if (table_) ZEROTH_CUDA_CHECK(cudaFree(table_));
      table_ = nullptr;
      table_capacity_ = 0;
      ZEROTH_CUDA_CHECK(cudaMalloc(&table_, need));
      table_capacity_ = need;
    }
    if (!segments_.empty())
      ZEROTH_CUDA_CHECK(cudaMemcpy(static_cast<char*>(table_) + kCounterBytes, segments_.data(),
                                   segments_.size() * sizeof(detail::Segment), cudaMemcpyHostToDevice));
    dirty_ = false;
  }

  void release() noexcept {
    if (table_) (void)cudaFree(table_);  // a destructor must not throw; the context may already be gone at exit
    table_ = nullptr;
    table_capacity_ = 0;
    dirty_ = true;
  }

  std::vector<Block> blocks_;
  std::vector<detail::Segment> segments_;
  GroupInfo groups_[3]{};
  std::size_t dimension_ = 0, snapshot_bytes_ = 0;
  void* table_ = nullptr;  ///< [vanished counter | segments]
  std::size_t table_capacity_ = 0;
  bool dirty_ = true;
};

/// A device copy of a store's trainable blocks, taken inside the first sweep of a step: bit-exact rollback for the
/// price of the trainable parameters' bytes once more. Owns its memory.
class DeviceSnapshot {
 public:
  DeviceSnapshot() = default;
  explicit DeviceSnapshot(const DeviceStore& store) : bytes_(store.snapshot_bytes()), allocated_(true) {
    if (bytes_) ZEROTH_CUDA_CHECK(cudaMalloc(&data_, bytes_));
  }
  DeviceSnapshot(const DeviceSnapshot&) = delete;
  DeviceSnapshot& operator=(const DeviceSnapshot&) = delete;
  DeviceSnapshot(DeviceSnapshot&& o) noexcept { *this = std::move(o); }
  DeviceSnapshot& operator=(DeviceSnapshot&& o) noexcept {
    if (this != &o) {
      if (data_) (void)cudaFree(data_);
      data_ = std::exchange(o.data_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
      allocated_ = std::exchange(o.allocated_, false);
    }
    return *this;
  }
  ~DeviceSnapshot() {
    if (data_) (void)cudaFree(data_);
  }

  bool empty() const noexcept { return !allocated_; }
  std::size_t bytes() const noexcept { return bytes_; }
  char* data() noexcept { return static_cast<char*>(data_); }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  bool allocated_ = false;
};

}  // namespace zeroth::gpu
