// bfloat16 weights in the llama2.c backend: the matrices held in bfloat16 (norms float32), converted to float32 on
// the fly in the forward, exposed to zeroth as DType::bf16 blocks and trained through its low-precision path.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <zeroth/backends/llama2c.hpp>

#include "fixtures.hpp"
#include <zeroth/backends/llama2c/checkpoint.hpp>
#include <zeroth/backends/llama2c/prompt_classifier.hpp>
#include <zeroth/data/load.hpp>
#include <zeroth/data/sampling.hpp>
#include <zeroth/zeroth.hpp>

using namespace zeroth;
using namespace zeroth::llama2c;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {
using test::kModels;
using test::relative_error;
using test::stories;

// Every matrix rounded to bfloat16 and back, kept in float32: the values a bf16 model computes with.
Weights rounded(const Weights& w) {
  Weights r = w;
  r.to_bfloat16();
  r.to_float32();
  return r;
}

using test::Sst2;

struct StepLog {
  std::vector<StepInfo>* steps;
  void on_step(const StepInfo& s) { steps->push_back(s); }
};
}  // namespace

TEST_CASE("bf16: a checkpoint loaded straight into bfloat16 is the float32 load converted", "[bf16]") {
  // A vocabulary of 1100 x dim 64: the embedding (70400 floats) crosses the loader's 64 Ki-float pieces.
  const Config c{.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 1100,
                 .seq_len = 32};
  const auto path = fs::temp_directory_path() / ("zeroth_bf16_load_" + std::to_string(::getpid()) + ".bin");
  for (bool shared : {true, false})
    for (Format f : {Format::legacy, Format::v1}) {
      Config cs = c;
      cs.shared_classifier = shared;
      Weights w = Weights::zeros(cs);
      std::uint32_t b = 0;
      for (auto& t : w.tensors()) {
        for (std::size_t i = 0; i < t.size; ++i)
          t.data[i] = (t.decay ? 0.3f : 1.0f) * random::direction_element(Direction::gaussian, 5, b, i);
        ++b;
      }
      save_checkpoint(path, w, f);
      Format detected{};
      const Weights half = load_checkpoint(path, &detected, DType::bf16);
      Weights converted = load_checkpoint(path);
      converted.to_bfloat16();
      INFO("shared " << shared << ", format " << (f == Format::v1 ? "v1" : "legacy"));
      CHECK(detected == f);
      CHECK(half.matrix_dtype == DType::bf16);
      CHECK(half.has_consistent_sizes());
      CHECK(half.half.token_embedding.size() == 1100 * 64);
      CHECK(half == converted);
    }
  fs::remove(path);
  CHECK_THROWS_WITH(load_checkpoint(kModels + "stories260K.bin", DType::f16), Contains("f32 or bf16, not f16"));
  CHECK_THROWS_AS(Weights::zeros(c, DType::f64), std::invalid_argument);
}

TEST_CASE("bf16: a bfloat16 model computes the float32 model's logits on the rounded weights", "[bf16]") {
  const auto batch = test::random_sequences({1, 9, 40, 3}, 512, 11, 1);
  Model b(stories());
  b.to_bfloat16();
  REQUIRE(b.matrix_dtype() == DType::bf16);
  // Conversion on the fly is exact: the same float32 arithmetic as a float32 model holding the rounded values.
  CHECK(relative_error(b.packed_logits(batch), Model(rounded(stories())).packed_logits(batch)) <= 1e-6f);
  SECTION("random GQA model with a separate classifier") {
    Model r(test::random_weights(false, 7));
    r.to_bfloat16();
    const auto b2 = test::random_sequences({20, 1, 47}, 50, 13, 1);
    CHECK(relative_error(r.packed_logits(b2), Model(rounded(test::random_weights(false, 7))).packed_logits(b2)) <= 1e-6f);
    CHECK(relative_error(r.classify(r.hidden_states(b2)), r.packed_logits(b2)) <= 1e-6f);
  }
}

TEST_CASE("bf16: bfloat16 logits are close to the float32 logits", "[bf16]") {
  const auto batch = test::random_sequences({1, 9, 40, 3, 64}, 512, 21, 1);
  const Model f(stories());
  Model b(stories());
  b.to_bfloat16();
  const RowMatrix lf = f.packed_logits(batch), lb = b.packed_logits(batch);
  const float err = relative_error(lb, lf);
  const float mean = ((lb - lf).array().abs() / (1.0f + lf.array().abs())).mean();
  Eigen::Index same = 0;
  for (Eigen::Index r = 0; r < lf.rows(); ++r) {
    Eigen::Index af = 0, ab = 0;
    lf.row(r).maxCoeff(&af);
    lb.row(r).maxCoeff(&ab);
    same += af == ab;
  }
  const double agree = static_cast<double>(same) / static_cast<double>(lf.rows());
  INFO("bf16 vs f32 logits: max rel " << err << ", mean rel " << mean << ", top-1 agreement " << agree
                                      << ", max |f32 logit| " << lf.cwiseAbs().maxCoeff());
  // Tolerance: bfloat16 keeps 8 significant bits, so rounding moves each weight by at most 2^-9 (0.2%) of itself,
  // about 0.1% RMS. Those errors add up over the 5 layers' residual stream and the classifier: measured on these
  // 117 positions x 512 logits, the mean relative error is 1.9e-3 (about one bf16 ulp, 2^-8), the worst 0.062 (at
  // the largest logits, |l| ~ 17, an absolute error of ~1), and the top-1 token agrees everywhere. The bounds allow
  // 2.5x the worst, 5x the mean, and 5% of argmax flips: far below what a wrong conversion would give (a misplaced
  // or mis-shifted matrix changes logits by O(1) relative), above bf16's own noise.
  CHECK(err > 0.0f);  // the rounding is real
  CHECK(err <= 0.15f);
  CHECK(mean <= 0.01f);
  CHECK(agree >= 0.95);
}

TEST_CASE("bf16: parameters() reports bfloat16 matrix blocks and float32 norms", "[bf16]") {
  Sst2 s;
  Model f(stories()), b(stories());
  b.to_bfloat16();
  PromptClassifier cf(f, s.tok, data::Task::sst2, s.train), cb(b, s.tok, data::Task::sst2, s.train);
  const auto pf = cf.parameters(), pb = cb.parameters();
  REQUIRE(pf.size() == pb.size());
  std::size_t bf16_elements = 0, bytes = 0;
  for (std::size_t i = 0; i < pb.size(); ++i) {
    INFO(pb[i].name);
    CHECK(pb[i].name == pf[i].name);
    CHECK(pb[i].size == pf[i].size);
    CHECK(pb[i].shape == pf[i].shape);
    CHECK(pb[i].flags.trainable);
    CHECK(pb[i].flags.decay == pf[i].flags.decay);
    const bool norm = pb[i].name.ends_with("norm");
    CHECK(pb[i].dtype == (norm ? DType::f32 : DType::bf16));
    if (!norm) bf16_elements += pb[i].size;
    bytes += pb[i].bytes();
    // Each element is the float32 one rounded to nearest.
    if (!norm) {
      const auto* h = static_cast<const bfloat16*>(pb[i].data);
      const auto* x = static_cast<const float*>(pf[i].data);
      bool same = true;
      for (std::size_t j = 0; j < pb[i].size; ++j) same = same && h[j].bits == to_bfloat16(x[j]).bits;
      CHECK(same);
    }
  }
  const Config& c = stories().config;
  const std::size_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers;
  CHECK(bf16_elements == c.vocab_size * d + L * (2 * d * d + 2 * kv * d + 3 * h * d));
  CHECK(bytes == 2 * bf16_elements + 4 * (260032 - bf16_elements));
  CHECK(make_store(cb).dimension() == 260032);
  // The float32 copies are freed.
  CHECK(b.weights().wq.empty());
  CHECK(b.weights().token_embedding.empty());
  CHECK(b.weights().has_consistent_sizes());
}

TEST_CASE("bf16: model.bin of a bfloat16 model is float32 and round-trips", "[bf16]") {
  Model b(test::random_weights(false, 7));
  b.to_bfloat16();
  const fs::path path = fs::temp_directory_path() / ("zeroth_bf16_" + std::to_string(::getpid()) + ".bin");
  save_checkpoint(path, b.merged_weights(), Format::legacy);
  Weights loaded = load_checkpoint(path);
  save_checkpoint(path, b.weights(), Format::v1);  // bf16 weights given directly are converted too
  const Weights loaded_v1 = load_checkpoint(path);
  fs::remove(path);
  CHECK(loaded.matrix_dtype == DType::f32);
  CHECK(loaded == rounded(test::random_weights(false, 7)));
  CHECK(loaded_v1 == loaded);
  loaded.to_bfloat16();
  CHECK(loaded == b.weights());  // bit for bit: bfloat16 -> float32 -> bfloat16 is exact
  b.to_float32();
  CHECK(b.weights() == rounded(test::random_weights(false, 7)));
}

TEST_CASE("bf16: a short bfloat16 fine-tune with stochastic rounding lowers the training loss", "[bf16]") {
  Sst2 s;
  const auto all = s.all();
  Model m(stories());
  m.to_bfloat16();
  PromptClassifier clf(m, s.tok, data::Task::sst2, s.train);
  const double before = clf.loss(all);
  BufferStore store = make_store(clf);
  BackendObjective objective(clf, clf.size(), 16, 0);
  std::vector<StepInfo> steps;
  Result r = ZOSGD({.learning_rate = 1e-4, .epsilon = 1e-3, .max_steps = 60, .seed = 0,
                    .rounding = Rounding::stochastic, .evaluate_final = false})
                 .minimize(objective, store, StepLog{&steps});
  const double after = clf.loss(all);
  INFO("training loss " << before << " -> " << after);  // measured 0.7388 -> 0.7071
  CHECK(r.ok());
  CHECK(after < before - 0.01);
  CHECK(m.matrix_dtype() == DType::bf16);
}

TEST_CASE("bf16: nearest rounding at a tiny learning rate reports vanished updates", "[bf16]") {
  Sst2 s;
  Model m(stories());
  m.to_bfloat16();
  PromptClassifier clf(m, s.tok, data::Task::sst2, s.train);
  BufferStore store = make_store(clf);
  BackendObjective objective(clf, clf.size(), 16, 0);
  // lr 1e-7 moves a weight by ~1e-7, far below half a bf16 ulp of any weight that is not tiny: nearest rounding drops
  // it. (StepInfo::vanished counts elements whose stored value the update sweep left unchanged although it computed
  // another: ~61k of 260k here, the weights whose eps = 1e-3 perturbation had itself rounded away; the others are
  // restored from their perturbed value, so their lost update is not counted.)
  std::vector<StepInfo> steps;
  Result r = ZOSGD({.learning_rate = 1e-7, .epsilon = 1e-3, .max_steps = 3, .seed = 0,
                    .rounding = Rounding::nearest, .evaluate_final = false})
                 .minimize(objective, store, StepLog{&steps});
  CHECK(r.ok());
  REQUIRE(steps.size() == 3);
  for (const auto& st : steps) {
    INFO("step " << st.step << ": " << st.vanished << " of " << store.dimension() << " updates vanished");
    CHECK(st.vanished > 0);
  }
}
