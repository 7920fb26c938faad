#pragma once
// Parallel evaluations: one copy of the parameters per concurrent evaluation of a step's points (ask_batch/tell_batch).
#include <cstddef>
#include <cstring>
#include <exception>
#include <span>
#include <vector>

#include "zeroth/stores/buffer_store.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace zeroth::detail {

/// `count` copies of the parameters (type C: an Eigen object, or std::vector<T> for a flat buffer; make() returns one),
/// each with a store view: the store's blocks (names, flags, bounds) repointed into the copy, so a best point can be
/// taken from it. `base` is the parameters' first byte; every block lies in [base, base + size of C's data).
template <class C>
class PointCopies {
 public:
  template <class Make>
  PointCopies(const BufferStore& store, Make&& make, const void* base, int count)
      : views_(static_cast<std::size_t>(count)) {
    copies_.reserve(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < views_.size(); ++i) {
      copies_.push_back(make());
      for (Block b : store.blocks()) {
        b.data = reinterpret_cast<std::byte*>(copies_[i].data()) +
                 (static_cast<const std::byte*>(b.data) - static_cast<const std::byte*>(base));
        views_[i].add_block(std::move(b));
      }
    }
  }

  int size() const noexcept { return static_cast<int>(copies_.size()); }
  C& copy(int i) noexcept { return copies_[static_cast<std::size_t>(i)]; }
  const BufferStore& view(int i) const noexcept { return views_[static_cast<std::size_t>(i)]; }

  /// Copy i <- the parameters the store holds now, bit for bit.
  void capture(int i, const BufferStore& store) {
    const auto from = store.blocks();
    const auto to = views_[static_cast<std::size_t>(i)].blocks();
    for (std::size_t b = 0; b < from.size(); ++b) std::memcpy(to[b].data, from[b].data, from[b].bytes());
  }

 private:
  std::vector<C> copies_;
  std::vector<BufferStore> views_;
};

/// losses[i] <- eval(i) for i < n, on n OpenMP threads; an exception is rethrown after all have finished (the first in
/// evaluation order).
template <class Eval>
void evaluate_concurrently(int n, std::span<double> losses, Eval&& eval) {
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
#pragma omp parallel for num_threads(n) schedule(static, 1) if (n > 1)
  for (int i = 0; i < n; ++i) {
    try {
      losses[static_cast<std::size_t>(i)] = eval(i);
    } catch (...) {
      errors[static_cast<std::size_t>(i)] = std::current_exception();
    }
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace zeroth::detail
