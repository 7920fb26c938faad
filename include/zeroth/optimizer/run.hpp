#pragma once
// Run: the ask/tell state machine of one optimization over a store. The caller evaluates; the run perturbs in place.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/core/concepts.hpp"
#include "zeroth/optimizer/options.hpp"
#include "zeroth/optimizer/result.hpp"
#include "zeroth/random/philox.hpp"
#include "zeroth/stores/box.hpp"
#include "zeroth/sweeps/snapshot.hpp"
#include "zeroth/sweeps/sweep.hpp"

namespace zeroth {

/// The counters that, with the options and the parameters, determine the rest of a run.
struct RunState {
  std::uint64_t step = 0;         ///< steps taken (the next step's index)
  std::uint64_t evaluations = 0;  ///< objective evaluations so far
  double plateau_scale = 1.0;     ///< the factor Options::plateau has put on epsilon and the rate (1 when off)
};

/// What a Run needs of its store type: the snapshot, the context an update rule sees, what runs the sweeps (threads
/// on the host, a stream on a device) and the sweeps themselves. BufferStore's is here; zeroth/cuda/run.cuh adds
/// gpu::DeviceStore's, so one Run drives both.
template <class S>
struct StoreTraits;

template <>
struct StoreTraits<BufferStore> {
  using snapshot_type = Snapshot;
  using context_type = UpdateContext;
  using exec_type = int;  ///< threads (0: OpenMP's default)
  static int exec(const Options& o) noexcept { return o.threads; }
  static void move(BufferStore& s, Snapshot* snap, const SweepPlan& p, int threads) { sweep(s, snap, p, threads); }
  static void restore(BufferStore& s, Snapshot& snap, int threads) { restore_snapshot(s, snap, threads); }
  static double sq_norm(BufferStore& s, std::uint64_t seed, std::span<double> partials, int threads) {
    return gaussian_sq_norm(s, seed, partials, threads);
  }
  static void bind(UpdateContext&, int) noexcept {}
};

/// Ask/tell over a store: ask() moves the parameters to the next point to evaluate; tell(loss) records it and,
/// after the step's last evaluation, applies the update and returns the step's summary. S is BufferStore, or
/// gpu::DeviceStore through gpu::Run (zeroth/cuda/run.cuh).
///   auto run = opt.run(store);
///   while (run.step() < 100) { run.ask(); if (auto info = run.tell(model.loss())) log(*info); }
/// ask_batch()/tell_batch() give a phase's points at once, for evaluating copies concurrently, with the same bits.
template <Estimator E, class R, class S = BufferStore>
  requires Preconditioner<R, typename StoreTraits<S>::context_type>
class Run {
  using traits = StoreTraits<S>;
  using snapshot_type = typename traits::snapshot_type;
  using context_type = typename traits::context_type;
  using exec_type = typename traits::exec_type;

 public:
  using estimator_type = E;
  using preconditioner_type = R;
  /// The rule evaluates candidates after the update (ZO-SGD-Cons): a snapshot is always kept for exact moves.
  static constexpr bool has_candidates = CandidateRule<R>;

  Run(S& store, const Options& options, const E& estimator, R& rule, RunState state = {})
      : Run(store, options, estimator, rule, state, traits::exec(options)) {}

  /// With the executor of the sweeps given (a CUDA stream for a device store).
  Run(S& store, const Options& options, const E& estimator, R& rule, RunState state, exec_type exec)
      : store_(store), opt_(options), est_(estimator), rule_(rule), state_(state), exec_(exec) {
    opt_.validate();
    check_plateau_scale();
    const bool box = !opt_.lower_bounds.empty() || !opt_.upper_bounds.empty();
    if constexpr (std::derived_from<S, BufferStore>) {
      if (box) set_box_bounds(store_, opt_.lower_bounds, opt_.upper_bounds, opt_.bound_method);
      check_inside_bounds(store_);
    } else if (box) {
      throw std::invalid_argument("zeroth: box bounds (Options::lower_bounds, upper_bounds) are for host stores");
    }
    const std::size_t q = static_cast<std::size_t>(est_.directions());
    seeds_.resize(q);
    norms_.resize(q);
    offset_.resize(q);
    target_.resize(q);
    g_.resize(static_cast<std::size_t>(recorded_scalars<R>(est_)));
    scratch_a_.resize(q);
    scratch_b_.resize(q);
    active_seeds_.resize(q);
    active_coeff_.resize(q);
    losses_.resize(static_cast<std::size_t>(est_.evaluations()));
    if constexpr (requires { store_.chunks(); }) partials_.resize(store_.chunks().size());
    if (opt_.rollback == Rollback::snapshot || has_candidates) snapshot_ = snapshot_type(store_);
    if constexpr (has_candidates) cand_losses_.resize(static_cast<std::size_t>(rule_.candidates()));
    if constexpr (requires { est_.prepare(store_); }) est_.prepare(store_);    // masks' storage, allocated once
    if constexpr (requires { rule_.prepare(store_); }) rule_.prepare(store_);  // the rule's state, allocated once
    if constexpr (requires { est_.masks(); })
      active_.resize(static_cast<std::size_t>(est_.directions()) * store_.blocks().size());
    start_ = std::chrono::steady_clock::now();
  }

  /// Moves the parameters to the next point to evaluate (beginning a step when none is under way).
  Ask ask() {
    if (eval_ < 0) begin_step();
    if (asked_) throw std::logic_error("zeroth: ask() called twice without tell()");
    if (batch_ > 0) throw std::logic_error("zeroth: ask() called after ask_batch() without tell_batch()");
    asked_ = true;
    if (cand_ >= 0) {
      candidate_sweep(cand_);
      return {state_.step, est_.evaluations() + cand_, evaluations_per_step()};
    }
    move_to(eval_);
    return {state_.step, eval_, evaluations_per_step()};
  }

  /// Evaluations a step asks for: the estimator's, then a candidate rule's.
  int evaluations_per_step() const noexcept {
    if constexpr (has_candidates)
      return est_.evaluations() + rule_.candidates();
    else
      return est_.evaluations();
  }

  /// The steps the run can take, the schedules' horizon: max_steps, or the whole steps that max_evaluations leaves
  /// room for after the final evaluation (evaluate_final) if fewer.
  std::uint64_t horizon() const noexcept {
    if (opt_.max_evaluations == 0) return opt_.max_steps;
    const std::uint64_t reserve = opt_.evaluate_final ? 1 : 0, per = static_cast<std::uint64_t>(evaluations_per_step());
    const std::uint64_t fits = opt_.max_evaluations > reserve ? (opt_.max_evaluations - reserve) / per : 0;
    return std::max<std::uint64_t>(1, std::min(opt_.max_steps, fits));
  }

  /// Whether Options::max_evaluations leaves room for a whole step and `reserve` evaluations more (always true with no
  /// limit). An ask/tell loop that checks it before each step, as minimize() does, stops at a step boundary within the
  /// budget:  while (run.step() < n && run.step_fits()) { ... }
  bool step_fits(std::uint64_t reserve = 0) const noexcept {
    return opt_.max_evaluations == 0 ||
           state_.evaluations + static_cast<std::uint64_t>(evaluations_per_step()) + reserve <= opt_.max_evaluations;
  }

  /// Records the loss at the asked point; returns the step's summary after its last evaluation (or a rollback).
  std::optional<StepInfo> tell(double loss) {
    if (!asked_) throw std::logic_error("zeroth: tell() called without ask()");
    asked_ = false;
    ++state_.evaluations;
    if constexpr (has_candidates) {
      if (cand_ >= 0) {  // a non-finite candidate is never kept
        cand_losses_[static_cast<std::size_t>(cand_)] = std::isfinite(loss) ? loss : HUGE_VAL;
        if (++cand_ < rule_.candidates()) return std::nullopt;
        return finish(keep(rule_.choose(cand_losses_)), false);
      }
    }
    losses_[static_cast<std::size_t>(eval_)] = loss;
    if (!std::isfinite(loss)) {
      failed_eval_ = eval_;
      rollback();
      return finish(SweepStats{}, true);
    }
    if (++eval_ < est_.evaluations()) return std::nullopt;
    est_.estimate(losses_, eps_, g_);
    return after_estimate();
  }

  /// Batch ask (nevergrad's num_workers, CMA-ES's population): moves the parameters through the next points of the
  /// step's current phase (the estimator's points, or a candidate rule's candidates, whose points depend on the
  /// estimate), at most `max_points` of them (0: all of the phase), calling visit(Ask) while the store holds each: copy
  /// the parameters there, evaluate the copies concurrently, then tell_batch() their losses in the same order. The
  /// sweeps are those of ask() one at a time, so the copies, the step and the run are bit-identical to sequential
  /// ask/tell. Returns the number of points; afterwards the store holds the last one. With Rollback::inverse and no
  /// candidate rule, a batch of more than one estimator point keeps a copy of the parameters at its start (the
  /// trainable bytes once more, allocated once), from which a non-finite loss inside the batch rebuilds its point.
  ///   std::vector<std::vector<float>> copies;  // x: the vector the store is over
  ///   run.ask_batch([&](const zeroth::Ask&) { copies.push_back(x); });
  ///   std::vector<double> losses(copies.size());
  ///   #pragma omp parallel for
  ///   for (int i = 0; i < int(copies.size()); ++i) losses[i] = f(copies[i]);
  ///   if (auto info = run.tell_batch(losses)) log(*info);
  template <class Visit>
  int ask_batch(Visit&& visit, int max_points = 0) {
    if (asked_) throw std::logic_error("zeroth: ask_batch() called after ask() without tell()");
    if (batch_ > 0) throw std::logic_error("zeroth: ask_batch() called twice without tell_batch()");
    if (max_points < 0) throw std::invalid_argument("zeroth: ask_batch() needs max_points >= 0");
    if (eval_ < 0) begin_step();
    const bool candidates = cand_ >= 0;
    const int first = candidates ? cand_ : eval_;
    const int end = candidates ? evaluations_per_step() - est_.evaluations() : est_.evaluations();
    const int n = max_points > 0 ? std::min(end - first, max_points) : end - first;
    if (!candidates && n > 1 && snapshot_.empty()) {  // inverse rollback: keep the batch's start to rebuild a point
      if constexpr (!std::derived_from<S, BufferStore>)
        throw std::invalid_argument("zeroth: ask_batch() of several points with Rollback::inverse is for host stores "
                                    "(use Rollback::snapshot, or max_points = 1)");
      if (batch_start_.empty()) batch_start_ = snapshot_type(store_);
      copy_trainable(batch_start_);
      batch_offset_ = offset_;
    }
    batch_first_ = first;
    batch_ = n;
    for (int i = 0; i < n; ++i) {
      if (candidates) {
        candidate_sweep(first + i);
        visit(Ask{state_.step, est_.evaluations() + first + i, evaluations_per_step()});
      } else {
        move_to(first + i);
        visit(Ask{state_.step, first + i, evaluations_per_step()});
      }
    }
    return n;
  }

  /// Records the losses of the points ask_batch() gave, in its order; the same as tell() one at a time (a non-finite
  /// estimator loss rolls the step back there, and the losses after it are not counted). Returns the step's summary
  /// when the batch ended the step.
  std::optional<StepInfo> tell_batch(std::span<const double> losses) {
    if (batch_ == 0) throw std::logic_error("zeroth: tell_batch() called without ask_batch()");
    if (losses.size() != static_cast<std::size_t>(batch_))
      throw std::invalid_argument("zeroth: tell_batch() needs " + std::to_string(batch_) + " losses (got " +
                                  std::to_string(losses.size()) + ")");
    const int n = batch_;
    const bool candidates = cand_ >= 0;
    batch_ = 0;
    std::optional<StepInfo> info;
    for (int i = 0; i < n && !info; ++i) {
      if (!candidates && !std::isfinite(losses[i]) && i + 1 < n && snapshot_.empty()) {
        // The store holds the batch's last point: rebuild point i as the sequential run held it, then roll back.
        traits::restore(store_, batch_start_, exec_);
        std::copy(batch_offset_.begin(), batch_offset_.end(), offset_.begin());
        for (int j = batch_first_; j <= batch_first_ + i; ++j) move_to(j);
      }
      asked_ = true;
      info = tell(losses[i]);
    }
    return info;
  }

  /// For forward-mode estimators (ForwardGrad): begins a step and returns its directions; the tangent of direction k
  /// is norms[k] z(kind, seeds[k], block, index), masked as masks() says. Measure the JVPs, then tell_directional().
  struct Directions {
    Direction kind;
    std::span<const std::uint64_t> seeds;
    std::span<const double> norms;
  };
  Directions begin_directional() {
    if (eval_ >= 0) throw std::logic_error("zeroth: begin_directional() during a step");
    begin_step();
    return {est_.direction(), seeds_, norms_};
  }

  /// Records the directional derivatives g_k = grad f . (n_k z_k) measured at the step's start and the loss there,
  /// and applies the update (or, for a candidate rule, enters its candidate phase: continue with ask/tell).
  std::optional<StepInfo> tell_directional(std::span<const double> jvp, double loss) {
    if (eval_ != 0 || asked_ || cand_ >= 0) throw std::logic_error("zeroth: tell_directional() without begin_directional()");
    if (jvp.size() != seeds_.size()) throw std::invalid_argument("zeroth: tell_directional() needs one value per direction");
    state_.evaluations += static_cast<std::uint64_t>(est_.evaluations());
    std::fill(losses_.begin(), losses_.end(), loss);
    const bool finite = std::isfinite(loss) && std::all_of(jvp.begin(), jvp.end(), [](double v) { return std::isfinite(v); });
    if (!finite) {
      failed_eval_ = 0;
      return finish(SweepStats{}, true);
    }
    std::copy(jvp.begin(), jvp.end(), g_.begin());
    eval_ = est_.evaluations();
    return after_estimate();
  }

  /// Abandons the step under way and returns the parameters to where it began.
  void rollback() {
    if (snapshot_taken_) {
      traits::restore(store_, snapshot_, exec_);
      cand_ = -1;
    } else if (std::any_of(offset_.begin(), offset_.end(), [](double v) { return v != 0.0; })) {
      std::fill(target_.begin(), target_.end(), 0.0);
      linear_sweep();
    }
    std::fill(offset_.begin(), offset_.end(), 0.0);
  }

  /// Re-applies a recorded step without evaluating: the same sweeps, so the same bits.
  /// `failed_evaluation` is the evaluation whose loss was not finite (the step was rolled back), or -1.
  StepInfo replay(std::uint64_t step, std::span<const double> g, int failed_evaluation = -1) {
    if (eval_ >= 0) throw std::logic_error("zeroth: replay() during a step");
    if (step != state_.step) throw std::invalid_argument("zeroth: replay of step " + std::to_string(step) +
                                                         " but the run is at step " + std::to_string(state_.step));
    if (g.size() != g_.size()) throw std::invalid_argument("zeroth: replay record has the wrong number of directions");
    const bool rolled_back = failed_evaluation >= 0;
    if constexpr (has_candidates) {  // a corrupt record must not reach the cast to int (NaN, 1e300: undefined)
      const double kept = g.back();
      if (!rolled_back && !(kept >= 0 && kept < rule_.candidates() && kept == std::floor(kept))) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", kept);
        throw std::invalid_argument("zeroth: replay of step " + std::to_string(step) + ": the recorded kept candidate " +
                                    buf + " is not an integer in [0, " + std::to_string(rule_.candidates()) + ")");
      }
    }
    begin_step();
    const int last = rolled_back ? std::min(failed_evaluation, est_.evaluations() - 1) : est_.evaluations() - 1;
    for (int j = 0; j <= last; ++j) move_to(j);
    if (rolled_back) {
      eval_ = last;
      rollback();
      return *finish(SweepStats{}, true);
    }
    std::copy(g.begin(), g.end(), g_.begin());
    if constexpr (has_candidates) {
      ensure_snapshot();
      return *finish(keep(static_cast<int>(g.back())), false);
    }
    return *finish(update(), false);
  }

  std::uint64_t step() const noexcept { return state_.step; }
  /// Wall time since the run was created.
  double seconds() const noexcept {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  const RunState& state() const noexcept { return state_; }
  bool in_step() const noexcept { return eval_ >= 0; }
  int failed_evaluation() const noexcept { return failed_eval_; }
  const Options& options() const noexcept { return opt_; }
  const E& estimator() const noexcept { return est_; }
  R& preconditioner() noexcept { return rule_; }
  S& store() noexcept { return store_; }
  const S& store() const noexcept { return store_; }
  /// Extra bytes this run holds beyond the parameters (the snapshot, when rollback is bit-exact; the start of a batch,
  /// after an ask_batch() of several points with inverse rollback).
  std::size_t extra_bytes() const noexcept { return snapshot_.bytes() + batch_start_.bytes(); }

 private:
  snapshot_type* snapshot_ptr() noexcept { return snapshot_.empty() ? nullptr : &snapshot_; }

 protected:
  exec_type exec() const noexcept { return exec_; }

 private:

  std::optional<StepInfo> after_estimate() {
    if constexpr (has_candidates) {
      ensure_snapshot();
      cand_ = 0;
      return std::nullopt;
    }
    return finish(update(), false);
  }

  // A candidate rule moves from the snapshot: take one now if no evaluation moved the parameters (forward-grad).
  void ensure_snapshot() {
    if (snapshot_taken_) return;
    copy_trainable(snapshot_);
    snapshot_taken_ = true;
  }

  void copy_trainable(snapshot_type& to) {
    const auto chunks = store_.chunks();
    const auto blocks = store_.blocks();
    for (const auto& ch : chunks) {
      const std::size_t es = size_of(blocks[ch.block].dtype);
      std::memcpy(static_cast<std::byte*>(to.block(ch.block)) + ch.begin * es,
                  static_cast<const std::byte*>(blocks[ch.block].data) + ch.begin * es, (ch.end - ch.begin) * es);
    }
  }

  void candidate_sweep(int j) {
    context_type c = context();
    if constexpr (has_candidates) stats_ = rule_.candidate(j, c);
  }

  // Moves to the kept candidate (unless it is the one evaluated last: the parameters hold it already) and records it.
  SweepStats keep(int j) {
    if constexpr (has_candidates) {
      if (j < 0 || j >= rule_.candidates()) throw std::logic_error("zeroth: the rule chose no candidate");
      if (cand_ != rule_.candidates() || j != rule_.candidates() - 1) candidate_sweep(j);
      g_.back() = static_cast<double>(j);
    }
    cand_ = -1;
    return stats_;
  }

  context_type context() {
    BasicUpdateContext<S, snapshot_type> b{.store = store_,
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
                                           .threads = opt_.threads,
                                           .scratch_a = scratch_a_,
                                           .scratch_b = scratch_b_};
    context_type c{b};
    traits::bind(c, exec_);
    if constexpr (requires { est_.masks(); }) {
      const DirectionMasks m = est_.masks();
      c.active = m.active;
      c.mask = m.mask;
      c.sum_terms = m.sum_terms;
    }
    c.step = state_.step;
    return c;
  }

  SweepStats update() {
    context_type c = context();
    return rule_.update(c);
  }

  void begin_step() {
    const std::uint64_t t = state_.step;
    // The estimator's per-step choices (blocks, masks) from the run seed and the step, with x at the step's start.
    if constexpr (requires { est_.begin_step(store_, opt_.seed, t); }) est_.begin_step(store_, opt_.seed, t);
    step_seed_ = random::step_seed(opt_.seed, t, 0);
    for (std::size_t k = 0; k < seeds_.size(); ++k) seeds_[k] = random::mix64(step_seed_ + k);
    lr_ = opt_.learning_rate * opt_.lr_schedule.factor(t, horizon()) * state_.plateau_scale;
    eps_ = opt_.epsilon * opt_.eps_schedule.factor(t, horizon()) * state_.plateau_scale;
    for (std::size_t k = 0; k < seeds_.size(); ++k) {
      norms_[k] = 1.0;
      if (est_.direction() == Direction::sphere) {
        const double s = traits::sq_norm(store_, seeds_[k], partials_, exec_);
        norms_[k] = s > 0 ? std::sqrt(static_cast<double>(store_.dimension()) / s) : 0.0;
      }
    }
    std::fill(offset_.begin(), offset_.end(), 0.0);
    std::fill(losses_.begin(), losses_.end(), 0.0);
    snapshot_taken_ = false;
    cand_ = -1;
    eval_ = 0;
    failed_eval_ = -1;
  }

  void move_to(int j) {
    est_.point(j, target_);
    for (std::size_t k = 0; k < target_.size(); ++k) target_[k] *= eps_ * norms_[k];
    if (std::equal(target_.begin(), target_.end(), offset_.begin())) return;
    linear_sweep();
  }

  // Moves from offset_ to target_ in one sweep (from the snapshot once it exists: exact points, no drift).
  void linear_sweep() {
    std::size_t n = 0;
    DirectionMasks m;
    if constexpr (requires { est_.masks(); }) m = est_.masks();
    const std::size_t nb = store_.blocks().size();
    for (std::size_t k = 0; k < target_.size(); ++k) {
      const double c = snapshot_taken_ ? target_[k] : target_[k] - offset_[k];
      if (c != 0.0) {
        if (!m.active.empty()) std::copy_n(m.active.begin() + k * nb, nb, active_.begin() + n * nb);
        active_seeds_[n] = seeds_[k];
        active_coeff_[n++] = c;
      }
    }
    SweepPlan p{.kind = est_.direction(),
                .seeds = std::span<const std::uint64_t>(active_seeds_).first(n),
                .coeff = std::span<const double>(active_coeff_).first(n),
                .active = m.active.empty() ? std::span<const std::uint8_t>{}
                                           : std::span<const std::uint8_t>(active_).first(n * nb),
                .mask = m.mask};
    if constexpr (requires { rule_.direction_scale(); }) p.direction_scale = rule_.direction_scale();
    if (!snapshot_.empty()) {
      p.from_snapshot = snapshot_taken_;
      p.save_snapshot = !snapshot_taken_;
    }
    traits::move(store_, snapshot_ptr(), p, exec_);
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
    else if (opt_.plateau.enabled) adapt_plateau();
    std::fill(offset_.begin(), offset_.end(), 0.0);
    ++state_.step;
    eval_ = -1;
    return info;
  }

  // A scale from a checkpoint must fit the options: within [1, max_scale] with the rule on, exactly 1 with it off.
  void check_plateau_scale() const {
    const double s = state_.plateau_scale;
    const PlateauAdaptation& p = opt_.plateau;
    if (p.enabled && requires { E::forward_mode; })
      throw std::invalid_argument("zeroth: 'plateau' widens epsilon, which forward-grad does not use (its JVPs are "
                                  "exact): leave it off");
    if (p.enabled ? !(s >= 1.0 && s <= p.max_scale) : s != 1.0)
      throw std::invalid_argument("zeroth: the run state's plateau_scale " + std::to_string(s) + " does not fit " +
                                  (p.enabled ? "[1, plateau.max_scale]" : "'plateau' off (it must be 1): enable it "
                                                                          "as the checkpointed run had it"));
  }

  // Options::plateau: from the step's projected gradients alone, so that replay() repeats it.
  void adapt_plateau() {
    const auto q = static_cast<std::ptrdiff_t>(std::min(g_.size(), static_cast<std::size_t>(est_.directions())));
    const auto ties = std::count(g_.begin(), g_.begin() + q, 0.0);
    const PlateauAdaptation& p = opt_.plateau;
    double& s = state_.plateau_scale;
    s = std::clamp(static_cast<double>(ties) > p.tie_fraction * static_cast<double>(q) ? s * p.growth : s * p.shrink,
                   1.0, p.max_scale);
  }

  S& store_;
  Options opt_;
  E est_;
  R& rule_;
  RunState state_;
  exec_type exec_;
  snapshot_type snapshot_;
  snapshot_type batch_start_;          ///< the parameters where an ask_batch() began (inverse rollback only)
  std::vector<double> batch_offset_;  ///< offset_ there
  int batch_ = 0, batch_first_ = 0;   ///< points of the untold batch, and its first
  std::vector<std::uint64_t> seeds_, active_seeds_;
  std::vector<double> norms_, offset_, target_, g_, scratch_a_, scratch_b_, active_coeff_, losses_, partials_;
  std::vector<double> cand_losses_;
  std::vector<std::uint8_t> active_;
  SweepStats stats_{};
  int cand_ = -1;  ///< the candidate under evaluation, or -1 outside the candidate phase
  std::uint64_t step_seed_ = 0;
  double lr_ = 0, eps_ = 0;
  int eval_ = -1, failed_eval_ = -1;
  bool asked_ = false, snapshot_taken_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace zeroth
