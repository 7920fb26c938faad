#pragma once
// Fused device updates for the stateful rules (Momentum, Adam, HiZOO's diagonal Hessian; zeroth/cuda/factored.cuh
// builds on it): one generic kernel that regenerates z on the CPU's Philox counters and layout, forms the step's start
// x0 and g-hat, and calls the CPU rule's own per-element step (zeroth::detail::MomentumElement and friends,
// host/device code) with the rule's state in one device buffer allocated once. A step therefore gives the host rule's
// bits.
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "zeroth/cuda/check.cuh"
#include "zeroth/cuda/detail/element.cuh"
#include "zeroth/cuda/device_store.cuh"
#include "zeroth/cuda/sweep.cuh"
#include "zeroth/preconditioners/adam.hpp"
#include "zeroth/preconditioners/diagonal_hessian.hpp"
#include "zeroth/preconditioners/fused_update.hpp"
#include "zeroth/preconditioners/momentum.hpp"
#include "zeroth/preconditioners/update_context.hpp"
#include "zeroth/sweeps/fused.hpp"

namespace zeroth::gpu {

/// What a device rule sees at the end of a step: zeroth::UpdateContext's fields over a DeviceStore, and the stream
/// its sweep is enqueued on (`threads` is unused).
struct UpdateContext : BasicUpdateContext<DeviceStore, DeviceSnapshot> {
  cudaStream_t stream = nullptr;
};

/// `per` float32 values per trainable element in one device buffer, laid out by Segment::first_element (element i of
/// a segment at per * (first_element + i)); allocated once for a store's layout. Owns its memory.
class DeviceState {
 public:
  DeviceState() = default;
  DeviceState(const DeviceState&) = delete;
  DeviceState& operator=(const DeviceState&) = delete;
  DeviceState(DeviceState&& o) noexcept { *this = std::move(o); }
  DeviceState& operator=(DeviceState&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      per_ = std::exchange(o.per_, 0);
      layout_ = std::move(o.layout_);
      ptrs_ = std::move(o.ptrs_);
    }
    return *this;
  }
  ~DeviceState() { release(); }

  /// Allocates and fills with `init`, unless the state already matches the store's layout.
  void prepare(const DeviceStore& store, unsigned per, float init = 0.0f) {
    if (matches(store, per)) return;
    release();
    per_ = per;
    layout_ = layout_of(store);
    const std::size_t n = per * store.dimension();
    if (n) {
      ZEROTH_CUDA_CHECK(cudaMalloc(&data_, n * sizeof(float)));
      const std::vector<float> fill(n, init);
      ZEROTH_CUDA_CHECK(cudaMemcpy(data_, fill.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    }
    ptrs_.assign(store.blocks().size(), nullptr);
    for (const auto& s : store.segments()) ptrs_[s.block] = data_ + per * s.first_element;
  }

  bool matches(const DeviceStore& store, unsigned per) const {
    return per == per_ && (data_ != nullptr || store.dimension() == 0) && layout_ == layout_of(store);
  }

  float* data() noexcept { return data_; }
  unsigned per() const noexcept { return per_; }
  std::size_t bytes() const noexcept { return layout_.empty() ? 0 : per_ * layout_.back() * sizeof(float); }
  /// Device pointers to each block's state (null for frozen blocks): a SweepPlan's direction_scale when per is 1.
  std::span<const float* const> block_pointers() const noexcept { return ptrs_; }

  /// A host copy of the whole state (for tests and checkpoints), in the device layout.
  std::vector<float> to_host(cudaStream_t stream = nullptr) const {
    std::vector<float> h(bytes() / sizeof(float));
    if (!h.empty()) {
      ZEROTH_CUDA_CHECK(cudaMemcpyAsync(h.data(), data_, bytes(), cudaMemcpyDeviceToHost, stream));
      ZEROTH_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    return h;
  }

 private:
  // (block, size) of every trainable segment in launch order, then the total: equal layouts share offsets.
  static std::vector<std::uint64_t> layout_of(const DeviceStore& store) {
    std::vector<std::uint64_t> l;
    for (const auto& s : store.segments()) {
      l.push_back(s.block);
      l.push_back(s.size);
    }
    l.push_back(store.dimension());
    return l;
  }

  void release() noexcept {
    if (data_) (void)cudaFree(data_);
    data_ = nullptr;
    ptrs_.clear();
  }

  float* data_ = nullptr;
  unsigned per_ = 0;
  std::vector<std::uint64_t> layout_;
  std::vector<const float*> ptrs_;
};

namespace detail {

/// A FusedPlan as kernel parameters.
struct FusedArgs {
  std::uint64_t seeds[kMaxSweepTerms];
  float coeff[kMaxSweepTerms];  ///< u = sum_k coeff[k] z_k
  float back[kMaxSweepTerms];   ///< x0 = source + s * sum_k back[k] z_k
  std::uint64_t rounding_seed;
  const float* back_scale;  ///< s, indexed by Segment::first_element + i; null: 1
  std::uint32_t terms;
  bool has_back, from_snapshot, stochastic;
};

/// u = sum_k coeff[k] z_k and b = sum_k back[k] z_k for counter c's four elements, in the order of the CPU's
/// zeroth::detail::combine_directions.
template <bool Rademacher>
ZEROTH_HOST_DEVICE inline void fused_terms(const FusedArgs& a, const Segment& s, std::uint64_t c, float u[4],
                                           float b[4]) {
  for (int j = 0; j < 4; ++j) u[j] = b[j] = 0.0f;
  for (std::uint32_t k = 0; k < a.terms; ++k) {
    float z[4];
    direction4<Rademacher>(a.seeds[k], s.block, c, z);
    for (int j = 0; j < 4; ++j) u[j] = k == 0 ? mul_rn(a.coeff[k], z[j]) : fma_rn(a.coeff[k], z[j], u[j]);
    if (a.has_back)
      for (int j = 0; j < 4; ++j) b[j] = k == 0 ? mul_rn(a.back[k], z[j]) : fma_rn(a.back[k], z[j], b[j]);
  }
}

/// The step's start x0 of element i (current value `old`): the source plus the back term b, as fused_range.
template <class T>
ZEROTH_HOST_DEVICE inline float fused_start(const FusedArgs& a, const Segment& s, std::uint64_t i, T old,
                                            const T* snap, float b) {
  float x0 = widen(a.from_snapshot ? snap[i] : old);
  if (a.has_back) x0 = fma_rn(a.back_scale ? a.back_scale[s.first_element + i] : 1.0f, b, x0);
  return x0;
}

/// u and x0 of the single element i of a segment (its counter's other three elements are generated and dropped): for
/// reductions that walk a row or a column.
template <class T, bool Rademacher>
ZEROTH_HOST_DEVICE inline void fused_element(const FusedArgs& a, const Segment& s, std::uint64_t i, const T* x,
                                             const T* snap, float& u, float& x0) {
  float uu[4], bb[4];
  fused_terms<Rademacher>(a, s, (i >> 6) * 16 + (i & 15u), uu, bb);
  const unsigned j = static_cast<unsigned>(i >> 4) & 3u;
  u = uu[j];
  x0 = fused_start(a, s, i, x[i], snap, bb[j]);
}

/// An element function that reads its block and index instead of per-element state: f(block, i, decay, x0, u).
template <class F>
concept IndexedElement = F::indexed;

/// What one thread of the fused kernel does, as zeroth::detail::fused_range does per element: elements
/// 64 g + 16 j + l of a segment for counter c = 16 g + l; x[i] <- f(decay, x0, u, state of i), or
/// f(block, i, decay, x0, u) for an IndexedElement. Returns the 16-bit elements whose update rounded away.
template <class T, bool Rademacher, class F>
ZEROTH_HOST_DEVICE inline unsigned fused_counter(const FusedArgs& a, const Segment& s, std::uint64_t c, T* x,
                                                 const T* snap, float* state, const F& f,
                                                 const std::uint32_t round[4]) {
  float u[4], b[4];
  fused_terms<Rademacher>(a, s, c, u, b);
  const std::uint64_t first = (c >> 4) * 64 + (c & 15u);
  unsigned vanished = 0;
  for (int j = 0; j < 4; ++j) {
    const std::uint64_t i = first + 16u * j;
    if (i >= s.size) break;
    const T old = x[i];
    const float x0 = fused_start(a, s, i, old, snap, b[j]);
    float v;
    if constexpr (IndexedElement<F>)
      v = f(s.block, i, s.decay != 0, x0, u[j]);
    else
      v = f(s.decay != 0, x0, u[j], state + F::per * (s.first_element + i));
    vanished += store_rounded(x + i, old, v, a.stochastic, round[j]);
  }
  return vanished;
}

/// The fused update kernel: the tiling and rounding words of sweep_kernel, the element step of the rule F.
template <class T, bool Rademacher, class F>
__global__ void __launch_bounds__(kThreads) fused_kernel(FusedArgs a, const Segment* segs, std::uint32_t nseg,
                                                         const char* snapshot, float* state, F f,
                                                         unsigned long long* vanished) {
  tile<T>(segs, nseg, snapshot, a.rounding_seed, a.stochastic, vanished,
          [&](const Segment& s, std::uint64_t c, T* x, const T* snap, const std::uint32_t* round) {
            return fused_counter<T, Rademacher>(a, s, c, x, snap, state, f, round);
          });
}

template <class T, class F>
inline void launch_fused(const FusedArgs& a, bool rademacher, const DeviceStore::Group& g, const char* snapshot,
                         float* state, const F& f, unsigned long long* vanished, cudaStream_t stream) {
  launch_tiles(rademacher ? fused_kernel<T, true, F> : fused_kernel<T, false, F>, g, stream,
               rademacher ? "zeroth::gpu::detail::fused_kernel<T, rademacher, Rule>"
                          : "zeroth::gpu::detail::fused_kernel<T, gaussian, Rule>",
               a, g.segments, g.count, snapshot, state, f, vanished);
}

/// The plan as kernel parameters (coefficients rounded to float as the CPU's fused sweep rounds them). Masks are
/// rejected, never ignored.
inline FusedArgs make_fused_args(const DeviceStore& store, const FusedPlan& p) {
  check_plan(p.seeds.size(), p.coeff.size(), p.back.size(), !p.active.empty() || !p.mask.empty(), "FusedPlan");
  FusedArgs a{};
  a.terms = static_cast<std::uint32_t>(p.seeds.size());
  for (std::size_t k = 0; k < p.seeds.size(); ++k) {
    a.seeds[k] = p.seeds[k];
    a.coeff[k] = static_cast<float>(p.coeff[k]);
    a.back[k] = p.back.empty() ? 0.0f : static_cast<float>(p.back[k]);
  }
  a.has_back = !p.back.empty();
  a.back_scale = contiguous_scale(store, p.back_scale, "FusedPlan::back_scale");
  a.from_snapshot = p.from_snapshot;
  a.rounding_seed = p.rounding_seed;
  a.stochastic = p.rounding == Rounding::stochastic;
  return a;
}

}  // namespace detail

/// x[i] <- f(decay, x0, u, state of i) over every trainable element, as zeroth::fused_sweep with the element function
/// of a rule (F: trivially copyable, host/device operator(), `per` state values per element in `state`; or an
/// IndexedElement with `state` null). Waits when there are 16-bit blocks, to report the vanished count.
template <class F>
SweepStats fused_sweep(DeviceStore& store, DeviceSnapshot* snapshot, const FusedPlan& p, float* state, const F& f,
                       cudaStream_t stream = nullptr) {
  static_assert(std::is_trivially_copyable_v<F>, "zeroth: a device element function must be trivially copyable");
  const detail::FusedArgs a = detail::make_fused_args(store, p);
  detail::check_snapshot(store, snapshot, p.from_snapshot);
  const char* snap = snapshot && !snapshot->empty() ? snapshot->data() : nullptr;
  const bool rademacher = p.kind == Direction::rademacher;
  return detail::counting_vanished(store, stream, [&](unsigned long long* counter) {
    detail::launch_fused<float>(a, rademacher, store.group(DType::f32), snap, state, f, nullptr, stream);
    detail::launch_fused<bfloat16>(a, rademacher, store.group(DType::bf16), snap, state, f, counter, stream);
    detail::launch_fused<float16>(a, rademacher, store.group(DType::f16), snap, state, f, counter, stream);
  });
}

/// The same with the rule's state in a DeviceState prepared for this store.
template <class F>
SweepStats fused_sweep(DeviceStore& store, DeviceSnapshot* snapshot, const FusedPlan& p, DeviceState& state, const F& f,
                       cudaStream_t stream = nullptr) {
  if (!state.matches(store, F::per))
    throw std::logic_error("zeroth: the rule's device state was prepared for another store layout");
  return fused_sweep(store, snapshot, p, state.data(), f, stream);
}

/// ZO-SGD-MMT on the device: zeroth::Momentum's options and per-element step; m in a DeviceState (4 bytes/param).
class Momentum {
 public:
  static constexpr const char* name = zeroth::Momentum::name;
  using Options = zeroth::Momentum::Options;

  Momentum() = default;
  explicit Momentum(Options o) : o_(zeroth::Momentum(o).options()) {}  // validated as on the host

  void prepare(const DeviceStore& store) { m_.prepare(store, 1, 0.0f); }

  SweepStats update(UpdateContext& c) {
    const FusedPlan p = gradient_plan(c);
    return fused_sweep(c.store, c.snapshot, p, m_, zeroth::Momentum::element<float>(o_, c.learning_rate,
                                                                                     c.weight_decay), c.stream);
  }

  const DeviceState& state() const noexcept { return m_; }
  std::size_t state_bytes() const noexcept { return m_.bytes(); }

 private:
  Options o_{};
  DeviceState m_;
};

/// ZO-Adam on the device: zeroth::Adam's options and per-element step; (m, v) interleaved in a DeviceState.
class Adam {
 public:
  static constexpr const char* name = zeroth::Adam::name;
  using Options = zeroth::Adam::Options;

  Adam() = default;
  explicit Adam(Options o) : o_(zeroth::Adam(o).options()) {}

  void prepare(const DeviceStore& store) {
    if (!mv_.matches(store, 2)) t_ = 0;
    mv_.prepare(store, 2, 0.0f);
  }

  SweepStats update(UpdateContext& c) {
    const FusedPlan p = gradient_plan(c);
    ++t_;
    return fused_sweep(c.store, c.snapshot, p, mv_,
                       zeroth::Adam::element<float>(o_, c.learning_rate, c.weight_decay, t_), c.stream);
  }

  std::uint64_t updates() const noexcept { return t_; }
  const DeviceState& state() const noexcept { return mv_; }
  std::size_t state_bytes() const noexcept { return mv_.bytes(); }

 private:
  Options o_{};
  DeviceState mv_;
  std::uint64_t t_ = 0;
};

/// HiZOO's diagonal Hessian on the device: s = H^{-1/2} in a DeviceState (1 initially), which also scales every
/// perturbation sweep (direction_scale) and the update's back term, as on the host.
class DiagonalHessian {
 public:
  static constexpr const char* name = zeroth::DiagonalHessian::name;
  static constexpr bool needs_curvature = true;
  using Options = zeroth::DiagonalHessian::Options;

  DiagonalHessian() = default;
  explicit DiagonalHessian(Options o) : o_(zeroth::DiagonalHessian(o).options()) {}

  void prepare(const DeviceStore& store) { s_.prepare(store, 1, 1.0f); }
  std::span<const float* const> direction_scale() const noexcept { return s_.block_pointers(); }

  SweepStats update(UpdateContext& c) {
    const FusedPlan p = zeroth::DiagonalHessian::plan(c, s_.block_pointers());
    return fused_sweep(c.store, c.snapshot, p, s_, zeroth::DiagonalHessian::element<float>(o_, c), c.stream);
  }

  const DeviceState& state() const noexcept { return s_; }
  std::size_t state_bytes() const noexcept { return s_.bytes(); }

 private:
  Options o_{};
  DeviceState s_;
};

}  // namespace zeroth::gpu
