#pragma once
// Hybrid ZO/FO fine-tuning (ZO-Bench): the parameters chosen by name (e.g. the shallow layers) trained by a zeroth
// optimizer from forward passes alone, the others by a first-order rule fused into back-propagation (LOMO or
// AdaLomo), in one step on one batch. The ZO parameters never require gradients, so back-propagation stops at the
// first FO parameter and keeps no activations or gradients for the ZO part.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "zeroth/backends/torch/checkpoint.hpp"
#include "zeroth/backends/torch/lomo.hpp"
#include "zeroth/backends/torch/parameters.hpp"
#include "zeroth/io/checkpoint.hpp"
#include "zeroth/optimizer/result.hpp"
#include "zeroth/stores/buffer_store.hpp"

namespace zeroth::libtorch {

/// What one hybrid step did: the ZO part's summary, then the FO part's.
struct HybridStep {
  std::optional<StepInfo> zo;  ///< empty when the ZO part had nothing to train
  FirstOrderStep fo;
  bool ok() const noexcept { return (!zo || !zo->rolled_back) && fo.ok(); }
};

/// Splits `model`'s trainable parameters by `zo` (names matching it go to ZO; the rest to FO). `model` is a LibTorch
/// backend (ModuleBackend, SentenceClassifier): parameters(), named_parameters(), loss(batch), loss_tensor(batch).
/// Opt is a zeroth optimizer (ZOSGD, ZOAdam, ...); FO a rule with step(closure) built over the FO tensors (Lomo,
/// AdaLomo). Each step: the ZO step on the batch (its evaluations under no-grad), then the FO step on the same batch
/// at the parameters the ZO step left.
///   zeroth::libtorch::Hybrid hybrid(model, {.trainable = {"^encoder\\.layer\\.[0-2]\\."}}, zeroth::ZOSGD(o),
///                                   [](auto fo) { return zeroth::libtorch::Lomo(fo, {.learning_rate = 1e-3}); });
template <class Model, class Opt, class FO>
class Hybrid {
 public:
  template <class MakeFO>
  Hybrid(Model& model, const ParameterSelection& zo, Opt optimizer, MakeFO&& make_fo)
      : model_(model), opt_(std::move(optimizer)), fo_(make_fo(split(zo))) {
    if (opt_.options().plateau.enabled)  // save() keeps the step counts, not RunState::plateau_scale
      throw std::invalid_argument("zeroth: the hybrid's ZO part takes no 'plateau' rule: leave it off");
  }

  Hybrid(const Hybrid&) = delete;  // run_ refers to opt_ and store_
  Hybrid& operator=(const Hybrid&) = delete;

  /// One step; when the ZO part rolls back (a non-finite loss) the FO part is not taken.
  HybridStep step(std::span<const std::size_t> batch) {
    HybridStep s;
    if (store_.dimension() > 0) {
      if (!run_) run_.emplace(opt_.run(store_));
      std::optional<StepInfo> info;
      while (!info) {
        run_->ask();
        info = run_->tell(model_.loss(batch));
      }
      s.zo = info;
      opt_.state() = run_->state();
      if (info->rolled_back) {  // the ZO part met a non-finite loss: nothing moves this step
        s.fo.status = Status::non_finite_loss;
        s.fo.loss = info->loss;
        return s;
      }
    }
    s.fo = fo_.step([&] { return model_.loss_tensor(batch); });
    return s;
  }

  /// The ZO part's step count and rule state and the FO rule's state, saved and loaded as torch::optim's optimizers
  /// do (backends/torch/checkpoint.hpp; the parameters themselves are a checkpoint's blocks). A state that does not
  /// fit is refused, changing nothing.
  void save(torch::serialize::OutputArchive& out) const {
    const RunState& st = opt_.state();
    out.write("hybrid.zo.step", detail::vector_tensor(std::vector<std::int64_t>{static_cast<std::int64_t>(st.step),
                                                                                static_cast<std::int64_t>(st.evaluations)},
                                                      torch::kLong));
    if constexpr (zeroth::detail::StatefulRule<Rule>) {
      const std::string b = rule_state_bytes(opt_.preconditioner());
      out.write("hybrid.zo.rule", detail::vector_tensor(std::vector<std::uint8_t>(b.begin(), b.end()), torch::kByte));
    }
    torch::serialize::OutputArchive fo;
    fo_.save(fo);
    out.write("hybrid.fo", fo);
  }
  void load(torch::serialize::InputArchive& in) {
    const auto st = detail::read_vector<std::int64_t>(in, "hybrid.zo.step", 2, torch::kLong);
    if (st[0] < 0 || st[1] < 0) throw std::runtime_error("zeroth: the saved hybrid state has a negative step count");
    std::optional<Rule> rule;
    if constexpr (zeroth::detail::StatefulRule<Rule>) {
      torch::Tensor t;
      in.read("hybrid.zo.rule", t);
      if (t.scalar_type() != torch::kByte || t.dim() != 1)
        throw std::runtime_error("zeroth: the saved hybrid state's ZO rule is not a byte string");
      t = t.contiguous();
      rule.emplace(opt_.preconditioner());
      load_rule_state_bytes(*rule, std::string(t.data_ptr<std::uint8_t>(), t.data_ptr<std::uint8_t>() + t.numel()),
                            store_, "the saved hybrid state's ZO rule");
    }
    torch::serialize::InputArchive fo;
    in.read("hybrid.fo", fo);
    fo_.load(fo);
    if (rule) opt_.preconditioner() = std::move(*rule);
    opt_.state() = {static_cast<std::uint64_t>(st[0]), static_cast<std::uint64_t>(st[1])};
    run_.reset();
  }

  /// The ZO part's store (its blocks trainable; every other block frozen in it).
  BufferStore& zo_store() noexcept { return store_; }
  Opt& zo_optimizer() noexcept { return opt_; }
  FO& fo_rule() noexcept { return fo_; }
  const std::vector<NamedTensor>& fo_parameters() const noexcept { return fo_params_; }

 private:
  std::vector<NamedTensor> split(const ParameterSelection& zo) {
    std::vector<Block> blocks = model_.parameters();
    const auto& named = model_.named_parameters();
    if (blocks.size() != named.size()) throw std::logic_error("zeroth: Hybrid needs one block per named parameter");
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const bool trainable = blocks[i].flags.trainable;
      const bool by_zo = trainable && zo.is_trainable(blocks[i].name);
      blocks[i].flags.trainable = by_zo;
      torch::Tensor t = named[i].second;
      t.requires_grad_(trainable && !by_zo);
      if (trainable && !by_zo) fo_params_.push_back(named[i]);
      store_.add_block(std::move(blocks[i]));
    }
    if (fo_params_.empty())
      throw std::invalid_argument("zeroth: Hybrid's ZO selection takes every trainable parameter: nothing is left to FO");
    return fo_params_;
  }

  using Rule = std::remove_cvref_t<decltype(std::declval<Opt&>().preconditioner())>;
  Model& model_;
  BufferStore store_;
  std::vector<NamedTensor> fo_params_;
  Opt opt_;
  FO fo_;
  std::optional<decltype(std::declval<Opt&>().run(std::declval<BufferStore&>()))> run_;  // over opt_ and store_
};

template <class Model, class Opt, class MakeFO>
Hybrid(Model&, const ParameterSelection&, Opt, MakeFO&&)
    -> Hybrid<Model, Opt, std::invoke_result_t<MakeFO, std::vector<NamedTensor>>>;

}  // namespace zeroth::libtorch
