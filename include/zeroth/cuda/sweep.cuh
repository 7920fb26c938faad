#pragma once
// The fused device sweep x <- a * source + sum_k c_k z_k over a DeviceStore: every direction regenerated from the
// CPU's Philox counters in the CPU's element layout, one pass over memory, one launch per element type present.
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system_error.h>
#include <thrust/transform_reduce.h>

#include "zeroth/cuda/check.cuh"
#include "zeroth/cuda/detail/element.cuh"
#include "zeroth/cuda/device_store.cuh"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth::gpu {

namespace detail {

/// The segment holding tile (or counter) `t`: the last one whose first index is <= t. The table is small and every
/// thread of a CUDA block reads the same entries, so the search stays in L1.
template <bool ByCounter>
__device__ inline const Segment& find_segment(const Segment* segs, std::uint32_t n, std::uint64_t t) {
  std::uint32_t lo = 0, hi = n;
  while (hi - lo > 1) {
    const std::uint32_t mid = (lo + hi) / 2;
    if ((ByCounter ? segs[mid].first_counter : segs[mid].first_tile) <= t)
      lo = mid;
    else
      hi = mid;
  }
  return segs[lo];
}

/// The stochastic-rounding words of counter c's four elements (element i takes word i % 4 of rounding counter i / 4),
/// each lane computing one Philox counter and the others reading it by shuffle. Call it from all 32 lanes of a warp.
__device__ inline void rounding_words_shared(std::uint64_t seed, std::uint32_t block, std::uint64_t c,
                                             std::uint32_t round[4]) {
  const unsigned l = threadIdx.x & 15u;
  const Words mine = philox_words(seed, block, c, static_cast<std::uint32_t>(Stream::rounding));
  for (int j = 0; j < 4; ++j) {
    const int from = 4 * j + static_cast<int>(l >> 2);
    const std::uint32_t v0 = __shfl_sync(0xFFFFFFFFu, mine.w[0], from, 16);
    const std::uint32_t v1 = __shfl_sync(0xFFFFFFFFu, mine.w[1], from, 16);
    const std::uint32_t v2 = __shfl_sync(0xFFFFFFFFu, mine.w[2], from, 16);
    const std::uint32_t v3 = __shfl_sync(0xFFFFFFFFu, mine.w[3], from, 16);
    round[j] = (l & 2u) ? ((l & 1u) ? v3 : v2) : ((l & 1u) ? v1 : v0);  // word l % 4, without local memory
  }
}

/// Adds a warp's vanished 16-bit elements to the device counter (one atomic per warp). Call it from all 32 lanes.
template <class T>
__device__ inline void count_vanished(unsigned n, unsigned long long* vanished) {
  if constexpr (!std::is_same_v<T, float>) {
    if (vanished) {
      n = __reduce_add_sync(0xFFFFFFFFu, n);
      if ((threadIdx.x & 31u) == 0 && n) atomicAdd(vanished, static_cast<unsigned long long>(n));
    }
  }
}

/// The start of every tile kernel: one CUDA block per tile of 1,024 elements (16 direction groups); thread t takes
/// counter 16 g + l of its tile and the four elements 64 g + 16 j + l. A warp covers two groups: the two halves of one
/// Rademacher counter, so its Philox evaluation is warp-uniform. Stochastic-rounding words come from the lane holding
/// counter i / 4 by shuffle. `body(s, c, x, snap, round)` does the thread's elements and returns how many vanished.
template <class T, class Body>
__device__ inline void tile(const Segment* segs, std::uint32_t nseg, const char* snapshot, std::uint64_t rounding_seed,
                            bool stochastic, unsigned long long* vanished, const Body& body) {
  const Segment& s = find_segment<false>(segs, nseg, blockIdx.x);
  const std::uint64_t c = (blockIdx.x - s.first_tile) * kThreads + threadIdx.x;
  std::uint32_t round[4] = {0, 0, 0, 0};
  if constexpr (!std::is_same_v<T, float>) {
    if (stochastic) rounding_words_shared(rounding_seed, s.block, c, round);
  }
  T* x = static_cast<T*>(s.data);
  T* snap = snapshot ? reinterpret_cast<T*>(const_cast<char*>(snapshot) + s.snapshot_offset) : nullptr;
  count_vanished<T>(body(s, c, x, snap, round), vanished);
}

template <class T, bool Rademacher>
__global__ void __launch_bounds__(kThreads)
    sweep_kernel(SweepArgs a, const Segment* segs, std::uint32_t nseg, char* snapshot, unsigned long long* vanished) {
  tile<T>(segs, nseg, snapshot, a.rounding_seed, a.stochastic, vanished,
          [&](const Segment& s, std::uint64_t c, T* x, T* snap, const std::uint32_t* round) {
            return sweep_counter<T, Rademacher>(a, s, c, x, snap, round);
          });
}

/// One CUDA block per tile of a type group.
inline dim3 grid_of(const DeviceStore::Group& g) {
  if (g.tiles > 0x7FFFFFFFull) throw std::invalid_argument("zeroth: a DeviceStore type group exceeds 2^31 tiles");
  return dim3(static_cast<unsigned>(g.tiles));
}

/// Enqueues launch(counter), with counter a zeroed device counter of vanished 16-bit elements (null when the store
/// has none), and returns the count, waiting for it when there is one.
template <class Launch>
SweepStats counting_vanished(DeviceStore& store, cudaStream_t stream, Launch&& launch) {
  const bool sixteen = store.group(DType::bf16).count + store.group(DType::f16).count > 0;
  unsigned long long* counter = sixteen ? store.device_counter() : nullptr;
  if (counter) ZEROTH_CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof(*counter), stream));
  launch(counter);
  SweepStats st;
  if (counter) {
    unsigned long long n = 0;
    ZEROTH_CUDA_CHECK(cudaMemcpyAsync(&n, counter, sizeof(n), cudaMemcpyDeviceToHost, stream));
    ZEROTH_CUDA_CHECK(cudaStreamSynchronize(stream));
    st.vanished = static_cast<std::size_t>(n);
  }
  return st;
}

/// Launches `kernel` with one CUDA block per tile of type group g (nothing when g is empty), checking the launch.
template <class... P, class... A>
inline void launch_tiles(void (*kernel)(P...), const DeviceStore::Group& g, cudaStream_t stream, const char* name,
                         A... args) {
  if (g.count == 0) return;
  kernel<<<grid_of(g), dim3(kThreads), 0, stream>>>(args...);
  check(cudaGetLastError(), (std::string("launch of ") + name).c_str(), __FILE__, __LINE__);
}

template <class T>
inline void launch_sweep(const SweepArgs& a, bool rademacher, const DeviceStore::Group& g, char* snapshot,
                         unsigned long long* vanished, cudaStream_t stream) {
  launch_tiles(rademacher ? sweep_kernel<T, true> : sweep_kernel<T, false>, g, stream,
               rademacher ? "zeroth::gpu::detail::sweep_kernel<T, rademacher>"
                          : "zeroth::gpu::detail::sweep_kernel<T, gaussian>",
               a, g.segments, g.count, snapshot, vanished);
}

/// Sum over one counter's four elements of z^2 in double (elements past the block's end excluded).
struct GaussianSquares {
  const Segment* segs;
  std::uint32_t nseg;
  std::uint64_t seed;
  __device__ double operator()(std::uint64_t t) const {
    const Segment& s = find_segment<true>(segs, nseg, t);
    const std::uint64_t c = t - s.first_counter;
    float z[4];
    direction4<false>(seed, s.block, c, z);
    const std::uint64_t first = (c >> 4) * 64 + (c & 15u);
    double sum = 0;
    for (int j = 0; j < 4; ++j)
      if (first + 16u * j < s.size) sum += double(z[j]) * double(z[j]);
    return sum;
  }
};

/// The plan as kernel parameters: the CPU's double coefficients rounded to float exactly as the CPU sweep rounds them.
/// What every device plan is checked for: at most kMaxSweepTerms directions, a coefficient per direction in `coeff`
/// (and in `coeff2` unless it is empty), and no direction masks, which the device does not support yet: rejected,
/// never ignored. `plan` names the plan type in the message.
inline void check_plan(std::size_t seeds, std::size_t coeff, std::size_t coeff2, bool masked, const char* plan) {
  if (seeds > kMaxSweepTerms) throw std::invalid_argument("zeroth: too many directions in one sweep");
  if (coeff < seeds || (coeff2 != 0 && coeff2 < seeds))
    throw std::invalid_argument("zeroth: a sweep needs one coefficient per direction");
  if (masked)
    throw std::invalid_argument(std::string("zeroth: device sweeps do not support direction masks yet ('") + plan +
                                "::active' and '" + plan +
                                "::mask': block-wise and sparse estimators run on the host only)");
}

/// Checks the snapshot a plan reads or writes (`needed`) against the store it is for.
inline void check_snapshot(const DeviceStore& store, DeviceSnapshot* snapshot, bool needed) {
  if (needed && (snapshot == nullptr || snapshot->empty())) throw std::logic_error("zeroth: sweep needs a snapshot");
  if (snapshot && !snapshot->empty() && snapshot->bytes() != store.snapshot_bytes())
    throw std::logic_error("zeroth: the snapshot was made for another layout of the store");
}

inline SweepArgs make_args(const SweepPlan& p) {
  check_plan(p.seeds.size(), p.coeff.size(), p.coeff_nodecay.size(), !p.active.empty() || !p.mask.empty(),
             "SweepPlan");
  SweepArgs a{};
  a.terms = static_cast<std::uint32_t>(p.seeds.size());
  for (std::size_t k = 0; k < p.seeds.size(); ++k) {
    a.seeds[k] = p.seeds[k];
    a.coeff[k] = static_cast<float>(p.coeff[k]);
    a.coeff_nodecay[k] = static_cast<float>(p.coeff_nodecay.empty() ? p.coeff[k] : p.coeff_nodecay[k]);
  }
  a.scale = static_cast<float>(p.scale);
  a.scale_nodecay = static_cast<float>(p.scale_nodecay);
  a.rounding_seed = p.rounding_seed;
  a.from_snapshot = p.from_snapshot;
  a.save_snapshot = p.save_snapshot;
  a.stochastic = p.rounding == Rounding::stochastic;
  a.direction_scale = nullptr;
  return a;
}

/// The one device buffer behind a plan's per-block scale pointers (SweepPlan::direction_scale or FusedPlan::back_scale),
/// indexed by Segment::first_element: what a gpu::DeviceState's block pointers are. Null when `scale` is empty.
inline const float* contiguous_scale(const DeviceStore& store, std::span<const float* const> scale, const char* what) {
  if (scale.empty()) return nullptr;
  const float* base = nullptr;
  for (const Segment& s : store.segments()) {
    const float* p = s.block < scale.size() ? scale[s.block] : nullptr;
    if (p == nullptr || (base != nullptr && p != base + s.first_element))
      throw std::invalid_argument(std::string("zeroth: the device sweep needs '") + what +
                                  "' to point into one device buffer laid out by trainable element (a "
                                  "gpu::DeviceState of this store), with a pointer for every trainable block");
    if (base == nullptr) base = p - s.first_element;
  }
  return base;
}

}  // namespace detail

/// Enqueues one sweep over every trainable block of `store` on `stream`; returns at once. `vanished`, if given, is a
/// device counter the 16-bit elements whose update rounded away are added to. `snapshot` may be null unless the
/// plan reads or writes it.
inline void sweep_async(DeviceStore& store, DeviceSnapshot* snapshot, const SweepPlan& p, cudaStream_t stream = nullptr,
                        unsigned long long* vanished = nullptr) {
  detail::SweepArgs a = detail::make_args(p);
  a.direction_scale = detail::contiguous_scale(store, p.direction_scale, "SweepPlan::direction_scale");
  detail::check_snapshot(store, snapshot, p.from_snapshot || p.save_snapshot);
  char* snap = snapshot ? snapshot->data() : nullptr;
  const bool rademacher = p.kind == Direction::rademacher;
  detail::launch_sweep<float>(a, rademacher, store.group(DType::f32), snap, nullptr, stream);
  detail::launch_sweep<bfloat16>(a, rademacher, store.group(DType::bf16), snap, vanished, stream);
  detail::launch_sweep<float16>(a, rademacher, store.group(DType::f16), snap, vanished, stream);
}

/// One sweep, as zeroth::sweep on the host: same plan, same bits. Waits for it when there are 16-bit blocks, to
/// report the vanished count.
inline SweepStats sweep(DeviceStore& store, DeviceSnapshot* snapshot, const SweepPlan& p,
                        cudaStream_t stream = nullptr) {
  return detail::counting_vanished(store, stream, [&](unsigned long long* counter) {
    sweep_async(store, snapshot, p, stream, counter);
  });
}

/// Copies the snapshot back into the trainable blocks: a bit-exact rollback.
inline void restore_snapshot(DeviceStore& store, DeviceSnapshot& snapshot, cudaStream_t stream = nullptr) {
  if (snapshot.empty() || snapshot.bytes() != store.snapshot_bytes())
    throw std::logic_error("zeroth: restore_snapshot needs a snapshot of this store");
  for (const auto& s : store.segments()) {
    const std::size_t bytes = s.size * size_of(store.blocks()[s.block].dtype);
    ZEROTH_CUDA_CHECK(cudaMemcpyAsync(s.data, snapshot.data() + s.snapshot_offset, bytes, cudaMemcpyDeviceToDevice,
                                      stream));
  }
}

/// Sum of z^2 over the trainable elements for the Gaussian direction `seed`: what a sphere direction divides by.
/// A Thrust reduction in double: deterministic on a given device, equal to the CPU's sum up to its order of addition
/// (relative difference about 1e-16).
inline double gaussian_sq_norm(DeviceStore& store, std::uint64_t seed, cudaStream_t stream = nullptr) {
  const std::uint64_t n = store.counters();
  if (n == 0) return 0.0;
  detail::GaussianSquares f{store.device_segments(), static_cast<std::uint32_t>(store.segments().size()), seed};
  try {
    return thrust::transform_reduce(thrust::cuda::par.on(stream), thrust::counting_iterator<std::uint64_t>(0),
                                    thrust::counting_iterator<std::uint64_t>(n), f, 0.0, thrust::plus<double>());
  } catch (const thrust::system_error& e) {
    const auto code = static_cast<cudaError_t>(e.code().value());
    throw Error(code, error_message(code, "thrust::transform_reduce (gaussian_sq_norm)", __FILE__, __LINE__) +
                          ": " + e.what());
  }
}

}  // namespace zeroth::gpu
