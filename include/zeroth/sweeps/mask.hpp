#pragma once
// Element masks for sparse perturbations: z <- m ⊙ z in every sweep of a step. A random mask with an exact count per
// block is regenerated from its seed (a keyed permutation, no per-element storage); other masks are bit sets.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include "zeroth/random/philox.hpp"

namespace zeroth {

namespace random {

/// A keyed bijection of [0, n): a 4-round Feistel network on the smallest even-bit power of two >= n, cycle-walked
/// back into [0, n) (at most 4x the domain, so a few rounds on average). A pure function of (key, n, i).
class KeyedPermutation {
 public:
  KeyedPermutation(std::uint64_t key, std::uint64_t n) noexcept : key_(key), n_(n) {
    const unsigned bits = n <= 1 ? 2u : static_cast<unsigned>(std::bit_width(n - 1));
    half_ = (bits + 1) / 2;
    mask_ = (std::uint64_t{1} << half_) - 1;
  }

  /// The image of i (i < n).
  std::uint64_t operator()(std::uint64_t i) const noexcept {
    std::uint64_t x = i;
    do x = encrypt(x);
    while (x >= n_);
    return x;
  }

 private:
  std::uint64_t encrypt(std::uint64_t x) const noexcept {
    std::uint64_t l = x >> half_, r = x & mask_;
    for (std::uint64_t round = 0; round < 4; ++round) {
      const std::uint64_t f = mix64(key_ ^ mix64((round << 40) ^ r)) & mask_;
      const std::uint64_t t = l ^ f;
      l = r;
      r = t;
    }
    return (l << half_) | r;
  }

  std::uint64_t key_, n_;
  unsigned half_ = 1;
  std::uint64_t mask_ = 1;
};

}  // namespace random

/// Which elements of each trainable block the step's directions touch. Empty: all of them.
///   random: element i of block b (of n_b) is kept iff perm_b(i) < keep[b], perm_b keyed by (seed, b): exactly
///           keep[b] elements, regenerated from the seed in every sweep (16 bytes per block of storage);
///   bits:   bit i % 64 of word i / 64 of bits[b] (1 bit per parameter; a null block pointer keeps everything).
struct ElementMask {
  std::uint64_t seed = 0;
  std::span<const std::uint64_t> keep{};  ///< random: per block, how many elements are kept
  std::span<const std::uint64_t> size{};  ///< random: per block, its element count
  std::span<const std::uint64_t* const> bits{};

  bool empty() const noexcept { return keep.empty() && bits.empty(); }

  /// The key of block b's permutation (Philox on the mask stream).
  static std::uint64_t block_key(std::uint64_t seed, std::uint32_t b) noexcept {
    const auto w = random::philox(seed, b, 0, Stream::mask);
    return std::uint64_t(w[1]) << 32 | w[0];
  }

  /// Flags of elements [64 g, 64 g + 64) of block b, bit i for element 64 g + i.
  std::uint64_t group_bits(std::uint32_t b, std::uint64_t g) const noexcept {
    if (!bits.empty()) return bits[b] ? bits[b][g] : ~std::uint64_t{0};
    const std::uint64_t n = size[b], k = keep[b];
    if (k >= n) return ~std::uint64_t{0};
    if (k == 0) return 0;
    const random::KeyedPermutation perm(block_key(seed, b), n);
    std::uint64_t m = 0;
    for (std::uint64_t i = 0; i < 64 && 64 * g + i < n; ++i) m |= std::uint64_t(perm(64 * g + i) < k) << i;
    return m;
  }

  /// Whether element i of block b is kept.
  bool kept(std::uint32_t b, std::uint64_t i) const noexcept {
    return empty() || ((group_bits(b, i / 64) >> (i % 64)) & 1u);
  }
};

}  // namespace zeroth

namespace zeroth {

/// What an estimator may restrict its directions to, for every sweep of a step (returned by its optional masks()).
struct DirectionMasks {
  std::span<const std::uint8_t> active{};  ///< per direction k and store block b: active[k * blocks + b]
  ElementMask mask{};                      ///< per element, shared by all directions
  bool sum_terms = false;                  ///< g-hat = sum_k g_k z_k (disjoint blocks), not the average
};

}  // namespace zeroth
