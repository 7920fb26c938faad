#pragma once
// Counter-based random bits: Random123's Philox4x32-10, keyed by a 64-bit seed, countered by (index, block, stream).
#include <array>
#include <cstdint>

#include <Random123/philox.h>

namespace zeroth {

/// Independent random streams drawn from one seed; a stream tag is the fourth Philox counter word.
enum class Stream : std::uint32_t { direction = 0, rounding = 1, mask = 2, sampling = 3 };

namespace random {

inline constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;
inline constexpr int kPhiloxRounds = 10;

/// Four 32-bit random words for counter `index` of (`seed`, `block`, `stream`); a pure function of its arguments.
///   auto w = zeroth::random::philox(seed, block, i, zeroth::Stream::direction);
inline std::array<std::uint32_t, 4> philox(std::uint64_t seed, std::uint32_t block, std::uint64_t index,
                                           Stream stream) noexcept {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type ctr = {{static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32), block,
                                     static_cast<std::uint32_t>(stream)}};
  r123::Philox4x32::key_type key = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  auto r = gen(ctr, key);
  return {r[0], r[1], r[2], r[3]};
}

/// SplitMix64 finaliser: a bijective mix used to derive per-step seeds from a run seed.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// The seed of direction `k` of step `step` in a run seeded with `run_seed`.
constexpr std::uint64_t step_seed(std::uint64_t run_seed, std::uint64_t step, std::uint32_t k) noexcept {
  return mix64(mix64(run_seed ^ mix64(step)) + k);
}

}  // namespace random
}  // namespace zeroth
