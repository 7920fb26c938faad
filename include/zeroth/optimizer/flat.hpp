#pragma once
// Black-box objectives over a flat float/double buffer: the C-style and span call forms, and the store over the buffer.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "zeroth/core/concepts.hpp"
#include "zeroth/stores/buffer_store.hpp"

namespace zeroth {

/// A float or double buffer a black-box minimize() can work on in place.
template <class T>
concept FlatScalar = std::same_as<T, float> || std::same_as<T, double>;

/// A black-box objective over n values of T: f(std::span<const T>), f(std::span<T>), f(const T*, std::size_t) or
/// f(const T*) (a C function such as `double f(const double* x, size_t n)`), returning a number.
template <class F, class T>
concept FlatObjective = requires(F& f, std::span<const T> s) {
  { f(s) } -> std::convertible_to<double>;
}
|| requires(F& f, std::span<T> s) {
  { f(s) } -> std::convertible_to<double>;
}
|| requires(F& f, const T* p, std::size_t n) {
  { f(p, n) } -> std::convertible_to<double>;
}
|| requires(F& f, const T* p) {
  { f(p) } -> std::convertible_to<double>;
};

namespace detail {

template <class P>
inline constexpr bool is_span = false;
template <class T, std::size_t N>
inline constexpr bool is_span<std::span<T, N>> = true;

/// The objective minimize() sees: f called on the buffer in whichever form it takes, next_batch passed on.
template <class F, class T>
struct FlatCall {
  F& f;
  std::span<T> x;

  double operator()() const {
    if constexpr (requires { f(std::span<const T>(x)); })
      return static_cast<double>(f(std::span<const T>(x)));
    else if constexpr (requires { f(x); })
      return static_cast<double>(f(x));
    else if constexpr (requires { f(static_cast<const T*>(x.data()), x.size()); })
      return static_cast<double>(f(static_cast<const T*>(x.data()), x.size()));
    else
      return static_cast<double>(f(static_cast<const T*>(x.data())));
  }
  void next_batch(std::uint64_t step) const requires MinibatchObjective<F> { f.next_batch(step); }
};

/// A store over x split into `blocks` contiguous blocks x0, x1, ... whose sizes differ by at most one.
template <class T>
BufferStore flat_store(std::span<T> x, std::size_t blocks) {
  if (blocks == 0 || blocks > x.size())
    throw std::invalid_argument("zeroth: 'blocks' must be in [1, " + std::to_string(x.size()) + "] (got " +
                                std::to_string(blocks) + ")");
  BufferStore store;
  const std::size_t base = x.size() / blocks, extra = x.size() % blocks;
  std::size_t at = 0;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t n = base + (b < extra ? 1 : 0);
    store.add("x" + std::to_string(b), x.data() + at, n);
    at += n;
  }
  return store;
}

}  // namespace detail
}  // namespace zeroth
