#pragma once
// The adapter layer: what a model backend supplies so zeroth can fine-tune it with forward passes only.
#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

#include "zeroth/optimizer/minibatch.hpp"
#include "zeroth/stores/block.hpp"
#include "zeroth/stores/buffer_store.hpp"

namespace zeroth {

/// A backend exposes its trainable tensors as blocks over its own buffers and a scalar loss on a batch of example
/// indices. Both evaluations of a step call loss() with the same batch.
///   struct MyModel {
///     std::vector<zeroth::Block> parameters();                     // name, pointer, size, dtype, flags, shape
///     double loss(std::span<const std::size_t> batch);             // forward pass only
///   };
template <class B>
concept Backend = requires(B& b, std::span<const std::size_t> batch) {
  { b.parameters() } -> std::convertible_to<std::vector<Block>>;
  { b.loss(batch) } -> std::convertible_to<double>;
};

/// Optional: per-example predictions, for metrics such as accuracy.
template <class B>
concept BackendWithPredictions = Backend<B> && requires(B& b, std::span<const std::size_t> batch) {
  { b.predict(batch) } -> std::convertible_to<std::vector<int>>;
};

/// Optional: the directional derivative of the loss along a tangent given per block (forward-mode, for forward-grad).
template <class B>
concept BackendWithJvp = Backend<B> && requires(B& b, std::span<const std::size_t> batch,
                                                std::span<const float* const> tangent) {
  { b.jvp(batch, tangent) } -> std::convertible_to<double>;
};

/// One example's share of a batch loss: the batch's loss is (sum of `sum`) / (sum of `weight`), both summed in batch
/// order (batch_loss). A classifier's example has weight 1; a language model's, its number of target tokens.
struct ExampleLoss {
  double sum = 0;
  double weight = 1;
};

/// The loss of a batch from its examples' shares, summed in order: the reduction every backend's loss() uses, so that
/// a batch split over processes (zeroth/distributed) and gathered back gives the same bits as one process.
inline double batch_loss(std::span<const ExampleLoss> examples) {
  double sum = 0, weight = 0;
  for (const ExampleLoss& e : examples) {
    sum += e.sum;
    weight += e.weight;
  }
  return weight != 0 ? sum / weight : 0.0;
}

/// Optional: the per-example shares whose batch_loss() is loss(batch), bit for bit (for data-parallel runs).
template <class B>
concept BackendWithExampleLosses = Backend<B> && requires(B& b, std::span<const std::size_t> batch) {
  { b.example_losses(batch) } -> std::convertible_to<std::vector<ExampleLoss>>;
};

/// A store over the backend's parameters (no copy: the optimizer perturbs the backend's own buffers).
template <Backend B>
BufferStore make_store(B& backend) {
  BufferStore store;
  for (Block b : backend.parameters()) store.add_block(std::move(b));
  return store;
}

/// The objective for Optimizer::minimize over a backend: loss on a batch that is a pure function of (seed, step).
///   auto f = zeroth::BackendObjective(model, n_train, /*batch=*/16, /*seed=*/0);
///   opt.minimize(f, store);
template <Backend B>
class BackendObjective {
 public:
  BackendObjective(B& backend, std::size_t examples, std::size_t batch_size, std::uint64_t seed)
      : backend_(backend), sampler_([](std::span<const std::size_t>) { return 0.0; }, examples, batch_size, seed) {}
  void next_batch(std::uint64_t step) { sampler_.next_batch(step); }
  double operator()() { return backend_.loss(sampler_.batch()); }
  std::span<const std::size_t> batch() const { return sampler_.batch(); }

 private:
  B& backend_;
  Minibatch<double (*)(std::span<const std::size_t>)> sampler_;
};

}  // namespace zeroth
