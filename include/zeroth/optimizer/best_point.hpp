#pragma once
// BestPoint: the lowest loss a run evaluated and a copy of the parameters there, for keep_best and divergence rollback.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "zeroth/stores/box.hpp"
#include "zeroth/stores/buffer_store.hpp"
#include "zeroth/sweeps/snapshot.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// Tracks the best finite loss offered; with a copy (`keep_copy`), also the trainable parameters that produced it,
/// copied on each improvement: memory = the trainable parameters' bytes once more. Restoring gives back the best point
/// bit for bit. With box bounds only points inside the box count (an RGE evaluation x + eps z may lie outside it).
class BestPoint {
 public:
  BestPoint(const BufferStore& store, bool keep_copy) : bounded_(has_bounds(store)) {
    if (keep_copy) copy_ = Snapshot(store);
  }

  /// The parameters now hold a point that evaluated to `loss` during `step`.
  void offer(const BufferStore& store, double loss, std::uint64_t step) {
    if (!better(loss) || (bounded_ && !inside_bounds(store))) return;
    record(loss, step);
    if (!copy_.empty()) save(store, copy_);
  }

  /// Copies the best point back into the parameters; false if there is none (nothing finite was evaluated).
  bool restore(BufferStore& store, int threads) {
    if (copy_.empty() || !found_) return false;
    restore_snapshot(store, copy_, threads);
    return true;
  }

  bool found() const noexcept { return found_; }
  double loss() const noexcept { return loss_; }
  std::uint64_t step() const noexcept { return step_; }
  /// Bytes held for the copies.
  std::size_t bytes() const noexcept { return copy_.bytes(); }

 private:
  bool better(double loss) const noexcept { return std::isfinite(loss) && loss < loss_; }
  void record(double loss, std::uint64_t step) noexcept {
    loss_ = loss;
    step_ = step;
    found_ = true;
  }
  static void save(const BufferStore& store, Snapshot& to) {
    const auto blocks = store.blocks();
    for (const auto& ch : store.chunks()) {
      const std::size_t es = size_of(blocks[ch.block].dtype);
      std::memcpy(static_cast<std::byte*>(to.block(ch.block)) + ch.begin * es,
                  static_cast<const std::byte*>(blocks[ch.block].data) + ch.begin * es, (ch.end - ch.begin) * es);
    }
  }

  Snapshot copy_;
  double loss_ = std::numeric_limits<double>::infinity();
  std::uint64_t step_ = 0;
  bool found_ = false;
  bool bounded_ = false;
};

}  // namespace zeroth
