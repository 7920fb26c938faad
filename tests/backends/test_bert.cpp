// The BERT encoder backend on the real all-MiniLM-L6-v2 folder: its forward against a float64 PyTorch forward of the
// same weights (tests/fixtures/bert, from scripts/gen_bert_reference.py), bfloat16 weights, LoRA, config and weight
// errors, the output model folder, thread-count invariance, and short fine-tunes that lower the loss and resume
// bit-identically.
#include <catch2/catch.hpp>

#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include <zeroth/backends/bert.hpp>
#include <zeroth/tasks/presets.hpp>
#include <zeroth/tasks/sampling.hpp>
#include <zeroth/zeroth.hpp>
#include "support/temp_file.hpp"

using namespace zeroth;
using bert::RowMatrix;
namespace fs = std::filesystem;

namespace {

using zeroth::test::TempDir;
using zeroth::test::TempFile;
using zeroth::test::error_of;
const fs::path kModel = fs::path(ZEROTH_SHARED_DIR) / "models/all-MiniLM-L6-v2";
const fs::path kFixture = fs::path(ZEROTH_SOURCE_DIR) / "tests/fixtures/bert/minilm_reference.json";

// The reference cases: ids, token types and the float64 outputs.
struct Case {
  bert::Sequence seq;
  std::vector<double> mean, cls, last;
};
std::vector<Case> reference_cases() {
  std::ifstream in(kFixture);
  REQUIRE(in);
  const auto j = nlohmann::json::parse(in);
  std::vector<Case> out;
  for (const auto& c : j["cases"])
    out.push_back({{c["ids"].get<std::vector<int>>(), c["token_types"].get<std::vector<int>>()},
                   c["mean"].get<std::vector<double>>(), c["cls"].get<std::vector<double>>(),
                   c["last"].get<std::vector<double>>()});
  return out;
}

// max |a - b| / max |b|: the error relative to the vector's scale.
double relative(const Eigen::Ref<const Eigen::RowVectorXf>& a, const std::vector<double>& b) {
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    err = std::max(err, std::abs(double(a(static_cast<Eigen::Index>(i))) - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return err / scale;
}

std::vector<bert::Sequence> sequences(const std::vector<Case>& cases) {
  std::vector<bert::Sequence> s;
  for (const auto& c : cases) s.push_back(c.seq);
  return s;
}

struct Classifier {
  bert::Encoder encoder = bert::load_encoder(kModel);
  tokenizers::BertTokenizer tokenizer = tokenizers::BertTokenizer::from_folder(kModel);
  std::vector<tasks::Item> train;
  bert::SentenceClassifier clf;
  explicit Classifier(std::size_t k = 8, bert::ClassifierOptions o = {})
      : train(tasks::sample_k_shot(tasks::load(tasks::preset("sst2", tasks::ModelKind::encoder),
                                               fs::path(ZEROTH_SHARED_DIR) / "data/sst2/train.tsv"),
                                   2, k, 5)
                  .items),
        clf(encoder, tokenizer, train, o) {}
  std::vector<std::size_t> all() const {
    std::vector<std::size_t> v(train.size());
    std::iota(v.begin(), v.end(), std::size_t{0});
    return v;
  }
};
}  // namespace

TEST_CASE("bert: the encoder matches a float64 PyTorch forward of all-MiniLM-L6-v2 on real sentences", "[bert]") {
  const auto cases = reference_cases();
  REQUIRE(cases.size() == 6);
  bert::Encoder enc = bert::load_encoder(kModel);
  CHECK(enc.config().hidden_size == 384);
  CHECK(enc.pooling().mode == bert::Pooling::mean);
  CHECK(enc.pooling().normalize);
  // One batch of every case (ragged lengths 6..128, a sentence pair with token types 1): the packed forward.
  const auto seqs = sequences(cases);
  const RowMatrix h = enc.hidden_states(seqs);
  Eigen::Index row = 0;
  for (std::size_t b = 0; b < cases.size(); ++b) {
    const auto T = static_cast<Eigen::Index>(cases[b].seq.ids.size());
    const Eigen::RowVectorXf mean = h.middleRows(row, T).colwise().mean();
    INFO("case " << b << " (" << T << " tokens)");
    CHECK(relative(mean, cases[b].mean) < 1e-5);
    CHECK(relative(h.row(row), cases[b].cls) < 1e-5);
    CHECK(relative(h.row(row + T - 1), cases[b].last) < 1e-5);
    row += T;
  }
  // Sentence embeddings: mean pooling then L2 normalisation, as modules.json says.
  const RowMatrix e = enc.embed(seqs);
  for (std::size_t b = 0; b < cases.size(); ++b) {
    Eigen::RowVectorXd m = Eigen::Map<const Eigen::RowVectorXd>(cases[b].mean.data(), 384);
    m /= m.norm();
    CHECK((e.row(static_cast<Eigen::Index>(b)).cast<double>() - m).cwiseAbs().maxCoeff() < 1e-5);
  }
}

TEST_CASE("bert: the same bits on 1, 2 and 3 threads, alone or batched", "[bert][determinism]") {
  const auto seqs = sequences(reference_cases());
  bert::Encoder enc = bert::load_encoder(kModel);
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const RowMatrix one = enc.embed(seqs);
  for (int t : {2, 3}) {
    omp_set_num_threads(t);
    CHECK(enc.embed(seqs) == one);
  }
  omp_set_num_threads(saved);
#else
  const RowMatrix one = enc.embed(seqs);
  CHECK(enc.embed(seqs) == one);
#endif
}

TEST_CASE("bert: bfloat16 matrices stay close to float32 and are the rounded weights", "[bert][bf16]") {
  const auto seqs = sequences(reference_cases());
  bert::Encoder f32 = bert::load_encoder(kModel), b16 = bert::load_encoder(kModel, DType::bf16);
  const auto& w = b16.weights().at("encoder.layer.0.attention.self.query.weight");
  REQUIRE(w.dtype() == DType::bf16);
  CHECK(b16.weights().at("encoder.layer.0.attention.self.query.bias").dtype() == DType::f32);
  const auto& w32 = f32.weights().at("encoder.layer.0.attention.self.query.weight");
  for (std::size_t i = 0; i < 1000; ++i) CHECK(w.bf16[i].bits == to_bfloat16(w32.f32[i]).bits);
  const RowMatrix a = f32.embed(seqs), b = b16.embed(seqs);
  for (Eigen::Index r = 0; r < a.rows(); ++r) CHECK(a.row(r).dot(b.row(r)) > 0.995);  // cosine of unit vectors
  // Blocks report the storage type, so the optimizer perturbs them in its low-precision path.
  const auto blocks = b16.blocks();
  CHECK(blocks[0].dtype == DType::bf16);
  CHECK(blocks[3].dtype == DType::f32);  // embeddings.LayerNorm.weight
}

TEST_CASE("bert: config.json and weight errors name the file and the problem", "[bert][errors]") {
  TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path / name) << text;
    return dir.path / name;
  };
  std::ifstream in(kModel / "config.json");
  auto good = nlohmann::json::parse(in);
  auto with = [&](const char* key, nlohmann::json v) {
    auto j = good;
    j[key] = v;
    return write("config.json", j.dump());
  };
  CHECK_THROWS_WITH(bert::read_config(with("model_type", "roberta")),
                    Catch::Contains("model_type 'roberta' is not supported (supported: bert)"));
  CHECK_THROWS_WITH(bert::read_config(with("hidden_act", "relu")), Catch::Contains("hidden_act 'relu'"));
  CHECK_THROWS_WITH(bert::read_config(with("position_embedding_type", "relative_key")),
                    Catch::Contains("position_embedding_type 'relative_key'"));
  CHECK_THROWS_WITH(bert::read_config(with("num_attention_heads", 7)), Catch::Contains("not a multiple"));
  CHECK_THROWS_WITH(bert::read_config(with("hidden_size", -3)), Catch::Contains("field 'hidden_size'"));
  CHECK_THROWS_WITH(bert::read_config(write("config.json", "{\"model_type\": ")), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(bert::read_config(dir.path / "none.json"), Catch::Contains("none.json"));
  // A number too large for a double is a JSON error naming the file, as is a module whose type is not a string
  // (both escaped as nlohmann exceptions that did not name it; the first is what fuzz_task_spec found in spec files).
  CHECK_THROWS_WITH(bert::read_config(write("config.json", "{\"vocab_size\": 1e999}")),
                    Catch::Contains("config.json") && Catch::Contains("number overflow"));
  fs::create_directories(dir.path / "1_Pooling");
  write("1_Pooling/config.json", "{\"pooling_mode_mean_tokens\": 1e999}");
  CHECK_THROWS_WITH(bert::read_pooling(dir.path), Catch::Contains("config.json") && Catch::Contains("number overflow"));
  fs::remove(dir.path / "1_Pooling" / "config.json");
  write("modules.json", "[{\"type\": 3}]");
  CHECK_THROWS_WITH(bert::read_pooling(dir.path),
                    Catch::Contains("modules.json") && Catch::Contains("'type' of module 0 is not a string"));
  write("modules.json", "[1e999]");
  CHECK_THROWS_WITH(bert::read_pooling(dir.path),
                    Catch::Contains("modules.json") && Catch::Contains("number overflow"));
  // A checkpoint whose shapes are not the config's: named before anything is read.
  auto small = good;
  small["hidden_size"] = 768;
  small["num_attention_heads"] = 12;
  const auto cfg = bert::read_config(write("config.json", small.dump()));
  CHECK_THROWS_WITH(bert::load_weights(kModel / "model.safetensors", cfg),
                    Catch::Contains("'embeddings.word_embeddings.weight' is F32 [30522, 384]") &&
                        Catch::Contains("[30522, 768]"));
  // A missing tensor is named.
  const auto real = bert::read_config(kModel / "config.json");
  auto w = bert::Weights::zeros(real);
  std::vector<transformer::Parameter> fewer(w.tensors.begin(), w.tensors.end() - 1);
  bert::save_weights(dir.path / "model.safetensors", fewer);
  CHECK_THROWS_WITH(bert::load_weights(dir.path / "model.safetensors", real),
                    Catch::Contains("missing tensor 'encoder.layer.5.output.LayerNorm.bias'"));
  CHECK_THROWS_WITH(bert::load_encoder(dir.path / "nothing"), Catch::Contains("not a model folder"));
  // A weight that is not a number is named (before: loaded, and every loss was NaN).
  w.tensors[3].f32[7] = std::nanf("");
  bert::save_weights(dir.path / "model.safetensors", w.tensors);
  for (auto dtype : {DType::f32, DType::bf16})
    CHECK_THROWS_WITH(bert::load_weights(dir.path / "model.safetensors", real, dtype),
                      Catch::Contains("tensor '" + w.tensors[3].name + "' holds a NaN or an infinity at element 7"));
}

TEST_CASE("bert: LoRA starts at the base model, trains only the adapters and merges into the saved folder",
          "[bert][lora][io]") {
  const auto seqs = sequences(reference_cases());
  bert::Encoder enc = bert::load_encoder(kModel);
  const RowMatrix base = enc.embed(seqs);
  enc.enable_lora({.rank = 4, .targets = {"query", "value", "intermediate"}});
  CHECK(enc.embed(seqs) == base);  // B = 0
  const auto blocks = enc.blocks();
  std::size_t trainable = 0;
  for (const auto& b : blocks) trainable += b.flags.trainable ? b.size : 0;
  CHECK(trainable == 6 * (2 * 4 * (384 + 384) + 4 * (384 + 1536)));
  for (auto& t : enc.adapters())  // move B (and A) as training would
    for (std::size_t i = 0; i < t.f32.size(); ++i) t.f32[i] += 0.01f * std::sin(0.37f * static_cast<float>(i));
  const RowMatrix tuned = enc.embed(seqs);
  CHECK((tuned - base).cwiseAbs().maxCoeff() > 1e-3);
  TempDir dir;
  const auto out = dir.path / "tuned";
  bert::save_model_folder(enc, kModel, out);
  CHECK(fs::exists(out / "tokenizer.json"));
  CHECK(fs::exists(out / "1_Pooling/config.json"));
  bert::Encoder again = bert::load_encoder(out);
  CHECK_FALSE(again.has_lora());
  CHECK((again.embed(seqs) - tuned).cwiseAbs().maxCoeff() < 2e-6);  // merged: W + s B A in one matrix
  // Overwriting an existing folder replaces it whole; nothing temporary is left beside it.
  bert::save_model_folder(again, out, out);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++entries;
  CHECK(entries == 1);
  CHECK_THROWS_WITH(enc.enable_lora({.targets = {"query", "dense"}}), Catch::Contains("'dense' is not one of"));
}

TEST_CASE("bert: zero-shot classification by label texts, and a head that starts at the same rule", "[bert][clf]") {
  Classifier a;
  Classifier b(8, {.head = true});
  const auto all = a.all();
  const auto ea = a.clf.evaluate(), eb = b.clf.evaluate();
  CHECK(ea.examples == 16);
  CHECK(eb.predictions == ea.predictions);
  CHECK(eb.loss == Approx(ea.loss).epsilon(1e-4));
  CHECK(a.clf.loss(all) == Approx(ea.loss).epsilon(1e-9));
  // The head alone: one block of classes x (hidden + 1).
  CHECK(b.clf.head_parameters().size() == 1);
  CHECK(b.clf.head_parameters()[0].size == 2 * 385);
}

TEST_CASE("bert: a short ZO-SGD fine-tune of the real model lowers the training loss", "[bert][finetune]") {
  Classifier f;
  const auto all = f.all();
  const double before = f.clf.loss(all);
  BufferStore store = make_store(f.clf);
  CHECK(store.dimension() == 22713216 - 384 * 384 - 384);  // every tensor but the unused pooler
  BackendObjective objective(f.clf, f.clf.size(), 16, 0);
  Result r = ZOSGD({.learning_rate = 2e-4, .epsilon = 1e-3, .max_steps = 25, .seed = 0, .evaluate_final = false})
                 .minimize(objective, store);
  const double after = f.clf.loss(all);
  INFO("training loss " << before << " -> " << after);
  CHECK(r.ok());
  CHECK(after < before - 0.01);
}

TEST_CASE("bert: a fine-tune resumed from a checkpoint is bit-identical to an uninterrupted one", "[bert][resume]") {
  TempDir dir;
  const Options o{.learning_rate = 1e-4, .max_steps = 6, .seed = 4, .evaluate_final = false};
  auto weights = [](Classifier& c) {
    std::vector<float> v;
    for (const auto& t : c.encoder.weights().tensors) v.insert(v.end(), t.f32.begin(), t.f32.end());
    return v;
  };
  Classifier a(4), b(4);
  {
    BufferStore s = make_store(a.clf);
    BackendObjective obj(a.clf, a.clf.size(), 4, 1);
    ZOAdam(o).minimize(obj, s);
  }
  {
    BufferStore s = make_store(b.clf);
    BackendObjective obj(b.clf, b.clf.size(), 4, 1);
    ZOAdam first(o);
    first.minimize(obj, s, StepLimit(3), Checkpointer(dir.path / "ck.bin", 3));
  }
  Classifier c(4);  // as a fresh process: reload the checkpoint into the original model
  BufferStore s = make_store(c.clf);
  ZOAdam second(o);
  second.state() = load_checkpoint(dir.path / "ck.bin", s, second.preconditioner());
  BackendObjective obj(c.clf, c.clf.size(), 4, 1);
  second.minimize(obj, s);
  CHECK(weights(a) == weights(c));
  CHECK_FALSE(weights(a) == weights(b));
}
