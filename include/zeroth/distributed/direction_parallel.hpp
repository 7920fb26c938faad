#pragma once
// DirectionParallel: the points of each step (q directions' evaluations, a candidate rule's candidates, forward-grad's
// JVPs) shared out over the ranks. Every rank runs the identical Run on its own copy of the parameters and moves
// through every point in order (so its parameters follow the single-process path bit for bit), evaluates only its
// share, and the losses are all-gathered before the identical update. On the wire per step: one double per point.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "zeroth/core/concepts.hpp"
#include "zeroth/distributed/communicator.hpp"
#include "zeroth/estimators/dual.hpp"
#include "zeroth/estimators/forward_grad.hpp"
#include "zeroth/optimizer/result.hpp"

namespace zeroth::distributed {

/// Wraps the full-batch objective f (f(params) or f(), as minimize() takes it; its batch, if it has one, is the same
/// on every rank). minimize() hands whole steps to it (take_step), so the run is the single-process run with the same
/// options, bit for bit, on any number of ranks, at the evaluations of about one direction each when q = ranks.
///   zeroth::distributed::DirectionParallel f(comm, objective);
///   zeroth::ZOSGD({.learning_rate = 1e-3, .max_steps = 100}, zeroth::RGE({.directions = 4})).minimize(f, store);
/// A rank whose evaluation throws ends the run on every rank with Status::rank_failed, naming it and the step. Not
/// with keep_best, the divergence guard or parallel_evaluations (their losses live on other ranks).
template <class F>
class DirectionParallel {
 public:
  DirectionParallel(Communicator& comm, F f) : comm_(comm), f_(std::move(f)), counts_(comm.size()) {}

  void next_batch(std::uint64_t step)
    requires MinibatchObjective<F>
  {
    f_.next_batch(step);
  }

  /// A plain evaluation on every rank (minimize()'s final one), with an agreement on failure.
  template <class P>
  double operator()(P& params) {
    double loss = std::numeric_limits<double>::quiet_NaN();
    std::string error;
    detail::guarded(error, [&] { loss = static_cast<double>(evaluate(params)); });
    counts_.assign(counts_.size(), 0);
    if (const int failed = comm_.allgather_checked({}, {}, counts_, error); failed >= 0)
      throw RankFailure(failed, step_, error);
    return loss;
  }

  /// Takes one whole step of `run` (minimize() calls it): every phase's points visited in order, this rank's share
  /// evaluated, the losses gathered and told. Returns the step's summary.
  template <class RunT, class P>
  std::optional<StepInfo> take_step(RunT& run, P& params) {
    failure_.reset();
    step_ = run.step();
    if constexpr (requires { RunT::estimator_type::forward_mode; })
      return forward_step(run, params);
    else
      return finite_difference_step(run, params);
  }

  /// Why the last step failed: a rank threw (Status::rank_failed).
  std::optional<EvaluationFailure> failure() const { return failure_; }

 private:
  template <class P>
  auto evaluate(P& params) {
    if constexpr (requires { f_(params); })
      return f_(params);
    else
      return f_();
  }

  void note_failure(int rank, const std::string& error) {
    failure_ = EvaluationFailure{Status::rank_failed, RankFailure(rank, step_, error).what()};
  }

  template <class RunT, class P>
  std::optional<StepInfo> finite_difference_step(RunT& run, P& params) {
    const int R = comm_.size(), me = comm_.rank();
    std::optional<StepInfo> step;
    // The estimator's phase, then (a candidate rule, when the estimate did not roll back) the candidates'.
    for (bool candidates = false; !step; candidates = true) {
      const int per_step = run.evaluations_per_step(), E = run.estimator().evaluations();
      const int count = candidates ? per_step - E : E;  // the phase's points
      const int first = candidates ? E : 0;
      const Share mine = share(static_cast<std::size_t>(count), R, me);
      local_.clear();
      std::string error;
      const int n = run.ask_batch([&](const Ask& a) {
        const auto i = static_cast<std::size_t>(a.index - first);
        if (i < mine.begin || i >= mine.end) return;
        double loss = std::numeric_limits<double>::quiet_NaN();
        if (error.empty()) detail::guarded(error, [&] { loss = static_cast<double>(evaluate(params)); });
        local_.push_back(loss);
      });
      if (n != count) throw std::logic_error("zeroth: DirectionParallel: the phase has an unexpected number of points");
      for (int r = 0; r < R; ++r)
        counts_[static_cast<std::size_t>(r)] = static_cast<int>(share(static_cast<std::size_t>(count), R, r).size());
      all_.resize(static_cast<std::size_t>(count));
      if (const int failed = comm_.allgather_checked(local_, all_, counts_, error); failed >= 0) {
        note_failure(failed, error);
        std::fill(all_.begin(), all_.end(), std::numeric_limits<double>::quiet_NaN());
      }
      step = run.tell_batch(all_);
    }
    return step;
  }

  template <class RunT, class P>
  std::optional<StepInfo> forward_step(RunT& run, P& params) {
    const int R = comm_.size(), me = comm_.rank();
    const auto q = static_cast<std::size_t>(run.estimator().directions());
    const Share mine = share(q, R, me);
    std::string error;
    auto guarded_f = [&](const auto& x) {
      using Out = decltype(f_(x));
      Out out{};
      if (!error.empty()) return Out(std::numeric_limits<double>::quiet_NaN());
      detail::guarded(error, [&] { out = f_(x); });
      if (!error.empty()) out = Out(std::numeric_limits<double>::quiet_NaN());
      return out;
    };
    auto combine = [&](std::span<double> jvp, double& loss) {
      local_.assign(jvp.begin() + static_cast<std::ptrdiff_t>(mine.begin),
                    jvp.begin() + static_cast<std::ptrdiff_t>(mine.end));
      local_.push_back(mine.size() ? loss : std::numeric_limits<double>::quiet_NaN());
      for (int r = 0; r < R; ++r) counts_[static_cast<std::size_t>(r)] = static_cast<int>(share(q, R, r).size() + 1);
      all_.resize(q + static_cast<std::size_t>(R));
      if (const int failed = comm_.allgather_checked(local_, all_, counts_, error); failed >= 0) {
        note_failure(failed, error);
        std::fill(jvp.begin(), jvp.end(), std::numeric_limits<double>::quiet_NaN());
        loss = std::numeric_limits<double>::quiet_NaN();
        return;
      }
      std::size_t at = 0;
      for (int r = 0; r < R; ++r) {
        const Share s = share(q, R, r);
        for (std::size_t k = s.begin; k < s.end; ++k) jvp[k] = all_[at++];
        if (r == 0) loss = all_[at];  // rank 0 owns direction 0: its f(x)
        ++at;
      }
    };
    // The candidate phase (ZO-SGD-Cons) after the JVPs is evaluated by every rank (its points need no gathering),
    // then the ranks agree that none failed there.
    StepInfo info = forward_grad_step(guarded_f, params, run,
                                      [&](std::size_t k) { return k >= mine.begin && k < mine.end; }, combine);
    if constexpr (RunT::has_candidates) {
      counts_.assign(counts_.size(), 0);
      if (const int failed = comm_.allgather_checked({}, {}, counts_, error); failed >= 0) note_failure(failed, error);
    }
    return info;
  }

  Communicator& comm_;
  F f_;
  std::vector<int> counts_;
  std::vector<double> local_, all_;
  std::optional<EvaluationFailure> failure_;
  std::uint64_t step_ = 0;
};

}  // namespace zeroth::distributed
