#pragma once
// DataParallel: an objective whose batch is split over the ranks. Every rank evaluates its share of the examples at
// the same (identically perturbed) point; the per-example losses are gathered, so every rank forms the same batch
// loss, bit for bit, as one process evaluating the whole batch (batch_loss: sums in batch order), and the identical
// Run on every rank then applies the identical update. On the wire per evaluation: two doubles per example.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "zeroth/adapters/backend.hpp"
#include "zeroth/distributed/communicator.hpp"
#include "zeroth/estimators/dual.hpp"
#include "zeroth/optimizer/minibatch.hpp"
#include "zeroth/optimizer/result.hpp"

namespace zeroth::distributed {

/// `loss` maps a shard of example indices (and, if it takes them, the parameters) to one value per example:
/// std::vector<ExampleLoss> (a backend's example_losses), std::vector<double> (weight 1 each), or, evaluated on dual
/// numbers for forward-grad, std::vector<Dual<T>>. Batches are Minibatch's: a pure function of (seed, step).
///   zeroth::distributed::Communicator comm;
///   zeroth::distributed::DataParallel f(comm, [&](auto idx) { return model.example_losses(idx); }, n, 16, seed);
///   zeroth::ZOSGD(opts).minimize(f, store);   // the same bits on 1, 2 or 4 ranks as one process
/// With a batch-invariant loss (an example's loss does not depend on the other examples evaluated with it), the
/// parameters are bit-identical on any number of ranks; a rank whose evaluation throws ends the run on every rank with
/// Status::rank_failed naming it and the step; a non-finite loss on one shard rolls the step back everywhere.
template <class Loss>
class DataParallel {
 public:
  DataParallel(Communicator& comm, Loss loss, std::size_t examples, std::size_t batch_size, std::uint64_t seed)
      : comm_(comm), loss_(std::move(loss)), sampler_(Nothing{}, examples, batch_size, seed), counts_(comm.size()) {
    for (int r = 0; r < comm_.size(); ++r)
      counts_[static_cast<std::size_t>(r)] = static_cast<int>(2 * share(batch_size, comm_.size(), r).size());
    mine_ = share(batch_size, comm_.size(), comm_.rank());
  }

  void next_batch(std::uint64_t step) {
    sampler_.next_batch(step);
    step_ = step;
    failure_.reset();  // a step's failure stays until the next step
  }

  template <class P>
  auto operator()(P& params) {
    if constexpr (requires { loss_(params, shard()); })
      return batch_loss_of([&] { return loss_(params, shard()); });
    else
      return batch_loss_of([&] { return loss_(shard()); });
  }
  double operator()()
    requires requires(Loss& l, std::span<const std::size_t> s) { l(s); }
  {
    return batch_loss_of([&] { return loss_(shard()); });
  }

  /// Why the last rolled-back step failed: a rank threw (Status::rank_failed), or a shard's loss was not finite.
  std::optional<EvaluationFailure> failure() const { return failure_; }

  /// The step's whole batch, and this rank's share of it.
  std::span<const std::size_t> batch() const noexcept { return sampler_.batch(); }
  std::span<const std::size_t> shard() const noexcept { return batch().subspan(mine_.begin, mine_.size()); }

 private:
  struct Nothing {
    double operator()(std::span<const std::size_t>) const { return 0.0; }
  };

  // This rank's per-example losses (or its error) gathered into all_ (2 doubles per example of the whole batch, in
  // batch order), then reduced as one process would: NaN on every rank when a rank failed (failure_ says which).
  template <class Eval>
  auto batch_loss_of(Eval&& eval) {
    using Value = typename std::remove_cvref_t<decltype(eval())>::value_type;
    mine_values_.assign(2 * mine_.size(), 0.0);
    std::string error;
    detail::guarded(error, [&] {
      const auto out = eval();
      if (out.size() != mine_.size())
        throw std::logic_error("zeroth: the loss returned " + std::to_string(out.size()) + " values for a shard of " +
                               std::to_string(mine_.size()) + " examples");
      for (std::size_t i = 0; i < out.size(); ++i) {
        if constexpr (std::is_same_v<Value, ExampleLoss>) {
          mine_values_[2 * i] = out[i].sum;
          mine_values_[2 * i + 1] = out[i].weight;
        } else if constexpr (is_dual<Value>::value) {
          mine_values_[2 * i] = static_cast<double>(out[i].v);
          mine_values_[2 * i + 1] = static_cast<double>(out[i].d);
        } else {
          mine_values_[2 * i] = static_cast<double>(out[i]);
          mine_values_[2 * i + 1] = 1.0;
        }
      }
    });
    all_.resize(2 * batch().size());
    const int failed = comm_.allgather_checked(mine_values_, all_, counts_, error);
    if (failed >= 0 && !(failure_ && failure_->status == Status::rank_failed))
      failure_ = EvaluationFailure{Status::rank_failed, RankFailure(failed, step_, error).what()};
    return reduce<Value>(failed < 0);
  }

  template <class V>
  auto reduce(bool ok) {
    const std::size_t B = batch().size();
    if constexpr (is_dual<V>::value) {  // as one process sums duals: value and tangent in batch order
      using T = decltype(V{}.v);
      if (!ok) return V(std::numeric_limits<T>::quiet_NaN());
      V total{};
      for (std::size_t i = 0; i < B; ++i) total = total + V(static_cast<T>(all_[2 * i]), static_cast<T>(all_[2 * i + 1]));
      note_non_finite(static_cast<double>(total.v));
      return total / static_cast<T>(B);
    } else {
      if (!ok) return std::numeric_limits<double>::quiet_NaN();
      examples_.resize(B);
      for (std::size_t i = 0; i < B; ++i) examples_[i] = {all_[2 * i], all_[2 * i + 1]};
      const double l = batch_loss(examples_);
      note_non_finite(l);
      return l;
    }
  }

  // Names the first example whose loss is not finite, and the rank that evaluated it.
  void note_non_finite(double loss) {
    if (std::isfinite(loss) || failure_) return;
    for (std::size_t i = 0; i < batch().size(); ++i) {
      if (std::isfinite(all_[2 * i]) && std::isfinite(all_[2 * i + 1])) continue;
      int rank = 0;
      while (share(batch().size(), comm_.size(), rank).end <= i) ++rank;
      std::ostringstream s;
      s << "loss is not finite at step " << step_ << ": example " << batch()[i] << " (position " << i
        << " of the batch), evaluated by rank " << rank << ", gave " << all_[2 * i];
      failure_ = EvaluationFailure{Status::non_finite_loss, s.str()};
      return;
    }
  }

  Communicator& comm_;
  Loss loss_;
  Minibatch<Nothing> sampler_;
  std::vector<int> counts_;
  Share mine_;
  std::vector<double> mine_values_, all_;
  std::vector<ExampleLoss> examples_;
  std::optional<EvaluationFailure> failure_;
  std::uint64_t step_ = 0;
};

}  // namespace zeroth::distributed
