#pragma once
// gpu::Run: the ask/tell ZO-SGD run of zeroth::Run (estimator, schedules, rollback, stochastic rounding) over
// device-resident parameters. Its sweeps are the host run's sweeps, so a step gives the host's bits.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "zeroth/core/concepts.hpp"
#include "zeroth/cuda/device_store.cuh"
#include "zeroth/cuda/fused.cuh"
#include "zeroth/cuda/sweep.cuh"
#include "zeroth/optimizer/options.hpp"
#include "zeroth/optimizer/result.hpp"
#include "zeroth/optimizer/run.hpp"
#include "zeroth/preconditioners/identity.hpp"
#include "zeroth/random/philox.hpp"

namespace zeroth::gpu {

/// Ask/tell over a DeviceStore with the update rule R: MeZO's (zeroth::Identity, whose update is generic over the
/// context) or a device rule of zeroth/cuda/fused.cuh (gpu::Momentum, gpu::Adam, gpu::DiagonalHessian). ask() moves
/// the device parameters to the next point; tell(loss) records the loss the caller computed there (with its device
/// objective) and, after the step's last evaluation, applies the fused restore + update. Sweeps are enqueued on
/// `stream`; the caller's objective must run on the same stream or synchronise with it.
///   zeroth::gpu::Run run(store, {.learning_rate = 1e-3}, zeroth::RGE());
///   zeroth::gpu::Run adam(store, {.learning_rate = 1e-3}, zeroth::RGE(), zeroth::gpu::Adam({.beta1 = 0.9}));
///   while (run.step() < 1000) run.take_step([&] { return model_loss_on_device(); });
template <Estimator E, class R = zeroth::Identity>
  requires CurvatureCompatible<E, R>
class Run {
 public:
  using estimator_type = E;
  using preconditioner_type = R;

  Run(DeviceStore& store, const Options& options, const E& estimator, RunState state = {},
      cudaStream_t stream = nullptr)
      : Run(store, options, estimator, R{}, state, stream) {}

  Run(DeviceStore& store, const Options& options, const E& estimator, R rule, RunState state = {},
      cudaStream_t stream = nullptr)
      : store_(store), opt_(options), est_(estimator), rule_(std::move(rule)), state_(state), stream_(stream) {
    opt_.validate();
    if constexpr (requires { est_.masks(); })
      static_assert(sizeof(E) == 0, "zeroth: estimators with direction masks (block-wise, sparse) run on the host only");
    const std::size_t q = static_cast<std::size_t>(est_.directions());
    if (q > kMaxSweepTerms) throw std::invalid_argument("zeroth: too many directions for one sweep");
    seeds_.resize(q);
    norms_.resize(q);
    offset_.resize(q);
    target_.resize(q);
    g_.resize(static_cast<std::size_t>(scalar_count(est_)));
    if constexpr (requires { rule_.prepare(store_); }) rule_.prepare(store_);  // the rule's device state, once
    coeff_d_.resize(q);
    coeff_n_.resize(q);
    active_seeds_.resize(q);
    active_coeff_.resize(q);
    losses_.resize(static_cast<std::size_t>(est_.evaluations()));
    if (opt_.rollback == Rollback::snapshot) snapshot_ = DeviceSnapshot(store_);
    start_ = std::chrono::steady_clock::now();
  }

  /// Moves the parameters to the next point to evaluate (beginning a step when none is under way).
  Ask ask() {
    if (eval_ < 0) begin_step();
    if (asked_) throw std::logic_error("zeroth: ask() called twice without tell()");
    move_to(eval_);
    asked_ = true;
    return {state_.step, eval_, est_.evaluations()};
  }

  /// Records the loss at the asked point; returns the step's summary after its last evaluation (or a rollback).
  std::optional<StepInfo> tell(double loss) {
    if (!asked_) throw std::logic_error("zeroth: tell() called without ask()");
    asked_ = false;
    ++state_.evaluations;
    losses_[static_cast<std::size_t>(eval_)] = loss;
    if (!std::isfinite(loss)) {
      failed_eval_ = eval_;
      rollback();
      return finish(SweepStats{}, true);
    }
    if (++eval_ < est_.evaluations()) return std::nullopt;
    est_.estimate(losses_, eps_, g_);
    return finish(update(), false);
  }

  /// One whole step: ask, evaluate `loss()` (a device objective returning a host double), tell, until it ends.
  template <class F>
  StepInfo take_step(F&& loss) {
    for (;;) {
      ask();
      if (auto info = tell(static_cast<double>(loss()))) return *info;
    }
  }

  /// Abandons the step under way and returns the parameters to where it began.
  void rollback() {
    if (snapshot_taken_) {
      restore_snapshot(store_, snapshot_, stream_);
    } else if (std::any_of(offset_.begin(), offset_.end(), [](double v) { return v != 0.0; })) {
      std::fill(target_.begin(), target_.end(), 0.0);
      linear_sweep();
    }
    std::fill(offset_.begin(), offset_.end(), 0.0);
  }

  std::uint64_t step() const noexcept { return state_.step; }
  const RunState& state() const noexcept { return state_; }
  bool in_step() const noexcept { return eval_ >= 0; }
  int failed_evaluation() const noexcept { return failed_eval_; }
  const Options& options() const noexcept { return opt_; }
  const E& estimator() const noexcept { return est_; }
  DeviceStore& store() noexcept { return store_; }
  R& preconditioner() noexcept { return rule_; }
  cudaStream_t stream() const noexcept { return stream_; }
  /// Extra device bytes this run holds beyond the parameters (the snapshot, when rollback is bit-exact).
  std::size_t extra_bytes() const noexcept { return snapshot_.bytes(); }

 private:
  DeviceSnapshot* snapshot_ptr() noexcept { return snapshot_.empty() ? nullptr : &snapshot_; }

  SweepStats update() {
    UpdateContext c{{.store = store_,
                     .snapshot = snapshot_ptr(),
                     .direction = est_.direction(),
                     .seeds = seeds_,
                     .norms = norms_,
                     .offset = offset_,
                     .g = g_,
                     .learning_rate = lr_,
                     .weight_decay = opt_.weight_decay,
                     .from_snapshot = snapshot_taken_,
                     .rounding = opt_.rounding,
                     .rounding_seed = random::mix64(step_seed_ ^ 0x5BD1E995u),
                     .threads = 0,
                     .scratch_a = coeff_d_,
                     .scratch_b = coeff_n_},
                    stream_};
    return rule_.update(c);
  }

  void begin_step() {
    const std::uint64_t t = state_.step;
    step_seed_ = random::step_seed(opt_.seed, t, 0);
    for (std::size_t k = 0; k < seeds_.size(); ++k) seeds_[k] = random::mix64(step_seed_ + k);
    lr_ = opt_.learning_rate * opt_.lr_schedule.factor(t, opt_.max_steps);
    eps_ = opt_.epsilon * opt_.eps_schedule.factor(t, opt_.max_steps);
    for (std::size_t k = 0; k < seeds_.size(); ++k) {
      norms_[k] = 1.0;
      if (est_.direction() == Direction::sphere) {
        const double s = gaussian_sq_norm(store_, seeds_[k], stream_);
        norms_[k] = s > 0 ? std::sqrt(static_cast<double>(store_.dimension()) / s) : 0.0;
      }
    }
    std::fill(offset_.begin(), offset_.end(), 0.0);
    std::fill(losses_.begin(), losses_.end(), 0.0);
    snapshot_taken_ = false;
    eval_ = 0;
    failed_eval_ = -1;
  }

  void move_to(int j) {
    est_.point(j, target_);
    for (std::size_t k = 0; k < target_.size(); ++k) target_[k] *= eps_ * norms_[k];
    if (std::equal(target_.begin(), target_.end(), offset_.begin())) return;
    linear_sweep();
  }

  void linear_sweep() {
    std::size_t n = 0;
    for (std::size_t k = 0; k < target_.size(); ++k) {
      const double c = snapshot_taken_ ? target_[k] : target_[k] - offset_[k];
      if (c != 0.0) {
        active_seeds_[n] = seeds_[k];
        active_coeff_[n++] = c;
      }
    }
    SweepPlan p{.kind = est_.direction(),
                .seeds = std::span<const std::uint64_t>(active_seeds_).first(n),
                .coeff = std::span<const double>(active_coeff_).first(n)};
    if constexpr (requires { rule_.direction_scale(); }) p.direction_scale = rule_.direction_scale();
    if (!snapshot_.empty()) {
      p.from_snapshot = snapshot_taken_;
      p.save_snapshot = !snapshot_taken_;
    }
    sweep_async(store_, snapshot_ptr(), p, stream_);
    snapshot_taken_ = !snapshot_.empty();
    std::copy(target_.begin(), target_.end(), offset_.begin());
  }

  std::optional<StepInfo> finish(SweepStats st, bool rolled_back) {
    const int n = rolled_back ? eval_ + 1 : est_.evaluations();
    double sum = 0;
    for (int j = 0; j < n; ++j) sum += losses_[static_cast<std::size_t>(j)];
    StepInfo info;
    info.step = state_.step;
    info.seed = step_seed_;
    info.loss = sum / n;
    info.projected_gradient = g_;
    info.learning_rate = lr_;
    info.epsilon = eps_;
    info.evaluations = state_.evaluations;
    info.vanished = st.vanished;
    info.rolled_back = rolled_back;
    info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (rolled_back) std::fill(g_.begin(), g_.end(), 0.0);
    std::fill(offset_.begin(), offset_.end(), 0.0);
    ++state_.step;
    eval_ = -1;
    return info;
  }

  DeviceStore& store_;
  Options opt_;
  E est_;
  R rule_;
  RunState state_;
  cudaStream_t stream_;
  DeviceSnapshot snapshot_;
  std::vector<std::uint64_t> seeds_, active_seeds_;
  std::vector<double> norms_, offset_, target_, g_, coeff_d_, coeff_n_, active_coeff_, losses_;
  std::uint64_t step_seed_ = 0;
  double lr_ = 0, eps_ = 0;
  int eval_ = -1, failed_eval_ = -1;
  bool asked_ = false, snapshot_taken_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace zeroth::gpu
