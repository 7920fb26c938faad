#pragma once
// gpu::Run: zeroth::Run (estimator, schedules, rollback, stochastic rounding, the update rule) over device-resident
// parameters. It is the host Run itself over a gpu::DeviceStore (StoreTraits below supplies the device sweeps), so a
// step gives the host's bits.
#include <cstdint>
#include <span>
#include <utility>

#include "zeroth/core/concepts.hpp"
#include "zeroth/cuda/device_store.cuh"
#include "zeroth/cuda/fused.cuh"
#include "zeroth/cuda/sweep.cuh"
#include "zeroth/optimizer/options.hpp"
#include "zeroth/optimizer/result.hpp"
#include "zeroth/optimizer/run.hpp"
#include "zeroth/preconditioners/identity.hpp"

namespace zeroth {

/// A DeviceStore's snapshot, update context and sweeps for zeroth::Run: moves are enqueued on the run's stream
/// without waiting; the update waits only to read the vanished count of 16-bit blocks.
template <>
struct StoreTraits<gpu::DeviceStore> {
  using snapshot_type = gpu::DeviceSnapshot;
  using context_type = gpu::UpdateContext;
  using exec_type = cudaStream_t;
  static cudaStream_t exec(const Options&) noexcept { return nullptr; }
  static void move(gpu::DeviceStore& s, gpu::DeviceSnapshot* snap, const SweepPlan& p, cudaStream_t stream) {
    gpu::sweep_async(s, snap, p, stream);
  }
  static void restore(gpu::DeviceStore& s, gpu::DeviceSnapshot& snap, cudaStream_t stream) {
    gpu::restore_snapshot(s, snap, stream);
  }
  static double sq_norm(gpu::DeviceStore& s, std::uint64_t seed, std::span<double>, cudaStream_t stream) {
    return gpu::gaussian_sq_norm(s, seed, stream);
  }
  static void bind(gpu::UpdateContext& c, cudaStream_t stream) noexcept { c.stream = stream; }
};

namespace gpu {

namespace detail {
template <class R>
struct RuleHolder {
  R rule;
};
}  // namespace detail

/// Ask/tell over a DeviceStore with the update rule R, which the run owns: MeZO's (zeroth::Identity) or a device rule
/// of zeroth/cuda/fused.cuh (gpu::Momentum, gpu::Adam, gpu::DiagonalHessian). ask() moves the device parameters to the
/// next point; tell(loss) records the loss the caller computed there (with its device objective) and, after the
/// step's last evaluation, applies the fused update. Sweeps are enqueued on `stream`; the caller's objective must run
/// on the same stream or synchronise with it. Estimators with direction masks (block-wise, sparse) and candidate
/// rules (ZO-SGD-Cons) run on the host only.
///   zeroth::gpu::Run run(store, {.learning_rate = 1e-3}, zeroth::RGE());
///   zeroth::gpu::Run adam(store, {.learning_rate = 1e-3}, zeroth::RGE(), zeroth::gpu::Adam({.beta1 = 0.9}));
///   while (run.step() < 1000) run.take_step([&] { return model_loss_on_device(); });
template <Estimator E, class R = zeroth::Identity>
  requires CurvatureCompatible<E, R>
class Run : private detail::RuleHolder<R>, public zeroth::Run<E, R, DeviceStore> {
  using base = zeroth::Run<E, R, DeviceStore>;
  static_assert(!requires(const E& e) { e.masks(); },
                "zeroth: estimators with direction masks (block-wise, sparse) run on the host only");
  static_assert(!CandidateRule<R>, "zeroth: rules with a candidate phase (ZO-SGD-Cons) run on the host only");

 public:
  Run(DeviceStore& store, const Options& options, const E& estimator, RunState state = {},
      cudaStream_t stream = nullptr)
      : Run(store, options, estimator, R{}, state, stream) {}

  Run(DeviceStore& store, const Options& options, const E& estimator, R rule, RunState state = {},
      cudaStream_t stream = nullptr)
      : detail::RuleHolder<R>{std::move(rule)}, base(store, options, estimator, this->rule, state, stream) {}

  Run(const Run&) = delete;  // the base refers to the rule this object holds
  Run& operator=(const Run&) = delete;

  /// One whole step: ask, evaluate `loss()` (a device objective returning a host double), tell, until it ends.
  template <class F>
  StepInfo take_step(F&& loss) {
    for (;;) {
      this->ask();
      if (auto info = this->tell(static_cast<double>(loss()))) return *info;
    }
  }

  cudaStream_t stream() const noexcept { return this->exec(); }
};

}  // namespace gpu
}  // namespace zeroth
