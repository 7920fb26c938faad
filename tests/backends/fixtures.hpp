#pragma once
// Shared fixtures of the llama2.c backend tests: the real stories260K weights, small random models and batches.
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <zeroth/backends/llama2c/checkpoint.hpp>
#include <zeroth/backends/llama2c/model.hpp>
#include <zeroth/backends/llama2c/tokenizer.hpp>
#include <zeroth/data/load.hpp>
#include <zeroth/data/sampling.hpp>

namespace zeroth::llama2c::test {

inline const std::string kModels = std::string(ZEROTH_SHARED_DIR) + "/models/stories260K/";

/// stories260K's weights, loaded once.
inline const Weights& stories() {
  static const Weights w = load_checkpoint(kModels + "stories260K.bin");
  return w;
}

/// A small random model with grouped-query attention (4 heads over 2 kv heads), shared or separate classifier.
inline Weights random_weights(bool shared, unsigned seed) {
  Config c{.dim = 32, .hidden_dim = 40, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 50,
           .seq_len = 48, .shared_classifier = shared};
  Weights w = Weights::zeros(c);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (auto& t : w.tensors())
    for (std::size_t i = 0; i < t.size; ++i) t.data[i] = t.decay ? normal(rng) : 1.0f + 0.1f * normal(rng);
  return w;
}

/// Random token sequences of the given lengths, tokens uniform in [first_token, vocab).
inline std::vector<std::vector<int>> random_sequences(const std::vector<int>& lengths, int vocab, unsigned seed,
                                                      int first_token) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> token(first_token, vocab - 1);
  std::vector<std::vector<int>> out;
  for (int n : lengths) {
    out.emplace_back();
    for (int i = 0; i < n; ++i) out.back().push_back(token(rng));
  }
  return out;
}

/// stories260K's tokenizer and 32 SST-2 training examples per class (seed 3).
struct Sst2 {
  Tokenizer tok = Tokenizer::load(kModels + "tok512.bin", 512);
  std::vector<data::Example> train = data::sample_k_shot(
      data::load_task(data::Task::sst2, std::string(ZEROTH_SHARED_DIR) + "/data/sst2/train.tsv"), 2, 32, 3).examples;
  std::vector<std::size_t> all() const {
    std::vector<std::size_t> v(train.size());
    std::iota(v.begin(), v.end(), std::size_t{0});
    return v;
  }
};

/// max |a - b| / (1 + |b|): allclose with rtol = atol = e passes when this is <= e.
inline float relative_error(const RowMatrix& a, const RowMatrix& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return ((a - b).array().abs() / (1.0f + b.array().abs())).maxCoeff();
}

}  // namespace zeroth::llama2c::test
