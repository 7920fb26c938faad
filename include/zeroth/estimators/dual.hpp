#pragma once
// Dual numbers for forward-mode differentiation: a value and one tangent, so f(x + t z) evaluated on duals gives f(x)
// and the directional derivative grad f(x) . z in one pass. Usable as an Eigen scalar.
#include <cmath>
#include <complex>

#include <Eigen/Core>

namespace zeroth {

/// v + d e with e^2 = 0.
///   zeroth::Dual<double> x{2.0, 1.0};
///   auto y = x * x;  // y.v == 4, y.d == 4
template <class T>
struct Dual {
  T v{};  ///< value
  T d{};  ///< tangent

  constexpr Dual() = default;
  constexpr Dual(T value) : v(value) {}  // NOLINT: a constant is a dual with zero tangent
  constexpr Dual(T value, T tangent) : v(value), d(tangent) {}
  template <class U>
    requires std::is_arithmetic_v<U>
  constexpr Dual(U value) : v(static_cast<T>(value)) {}  // NOLINT

  constexpr Dual& operator+=(const Dual& o) { return *this = *this + o; }
  constexpr Dual& operator-=(const Dual& o) { return *this = *this - o; }
  constexpr Dual& operator*=(const Dual& o) { return *this = *this * o; }
  constexpr Dual& operator/=(const Dual& o) { return *this = *this / o; }

  friend constexpr Dual operator+(const Dual& a, const Dual& b) { return {a.v + b.v, a.d + b.d}; }
  friend constexpr Dual operator-(const Dual& a, const Dual& b) { return {a.v - b.v, a.d - b.d}; }
  friend constexpr Dual operator*(const Dual& a, const Dual& b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
  friend constexpr Dual operator/(const Dual& a, const Dual& b) {
    return {a.v / b.v, (a.d * b.v - a.v * b.d) / (b.v * b.v)};
  }
  friend constexpr Dual operator-(const Dual& a) { return {-a.v, -a.d}; }
  friend constexpr Dual operator+(const Dual& a) { return a; }
  friend constexpr bool operator==(const Dual& a, const Dual& b) { return a.v == b.v; }
  friend constexpr auto operator<=>(const Dual& a, const Dual& b) { return a.v <=> b.v; }
};

template <class T> Dual<T> sqrt(const Dual<T>& a) { const T s = std::sqrt(a.v); return {s, a.d / (T(2) * s)}; }
template <class T> Dual<T> exp(const Dual<T>& a) { const T e = std::exp(a.v); return {e, a.d * e}; }
template <class T> Dual<T> log(const Dual<T>& a) { return {std::log(a.v), a.d / a.v}; }
template <class T> Dual<T> log1p(const Dual<T>& a) { return {std::log1p(a.v), a.d / (T(1) + a.v)}; }
template <class T> Dual<T> sin(const Dual<T>& a) { return {std::sin(a.v), a.d * std::cos(a.v)}; }
template <class T> Dual<T> cos(const Dual<T>& a) { return {std::cos(a.v), -a.d * std::sin(a.v)}; }
template <class T> Dual<T> tanh(const Dual<T>& a) { const T t = std::tanh(a.v); return {t, a.d * (T(1) - t * t)}; }
template <class T> Dual<T> abs(const Dual<T>& a) { return a.v < T(0) ? -a : a; }
template <class T> Dual<T> abs2(const Dual<T>& a) { return a * a; }
template <class T> Dual<T> pow(const Dual<T>& a, T p) { return {std::pow(a.v, p), a.d * p * std::pow(a.v, p - T(1))}; }
template <class T> Dual<T> conj(const Dual<T>& a) { return a; }
template <class T> Dual<T> real(const Dual<T>& a) { return a; }
template <class T> Dual<T> imag(const Dual<T>&) { return {}; }
template <class T> bool isfinite(const Dual<T>& a) { return std::isfinite(a.v) && std::isfinite(a.d); }
template <class T> bool isnan(const Dual<T>& a) { return std::isnan(a.v) || std::isnan(a.d); }

/// The value of a dual (or a plain number).
template <class T> T value_of(const Dual<T>& a) { return a.v; }
/// The tangent of a dual.
template <class T> T tangent_of(const Dual<T>& a) { return a.d; }

template <class T>
struct is_dual : std::false_type {};
template <class T>
struct is_dual<Dual<T>> : std::true_type {};

}  // namespace zeroth

namespace Eigen {

template <class T>
struct NumTraits<zeroth::Dual<T>> : NumTraits<T> {
  using Real = zeroth::Dual<T>;
  using NonInteger = zeroth::Dual<T>;
  using Nested = zeroth::Dual<T>;
  using Literal = zeroth::Dual<T>;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 2 * NumTraits<T>::ReadCost,
    AddCost = 2 * NumTraits<T>::AddCost,
    MulCost = 3 * NumTraits<T>::MulCost + NumTraits<T>::AddCost
  };
  static inline zeroth::Dual<T> epsilon() { return NumTraits<T>::epsilon(); }
  static inline zeroth::Dual<T> dummy_precision() { return NumTraits<T>::dummy_precision(); }
  static inline zeroth::Dual<T> highest() { return NumTraits<T>::highest(); }
  static inline zeroth::Dual<T> lowest() { return NumTraits<T>::lowest(); }
  static inline int digits10() { return NumTraits<T>::digits10(); }
};

// Plain numbers (constants, data) mix with duals in Eigen expressions: h.array() * x.array().square().
template <class T, class BinaryOp>
struct ScalarBinaryOpTraits<zeroth::Dual<T>, T, BinaryOp> {
  using ReturnType = zeroth::Dual<T>;
};
template <class T, class BinaryOp>
struct ScalarBinaryOpTraits<T, zeroth::Dual<T>, BinaryOp> {
  using ReturnType = zeroth::Dual<T>;
};

}  // namespace Eigen
