// Fine-tuning stories260K through the adapter layer: the prompt-classification loss, a short run that lowers the
// training loss, and a resumed run that is bit-identical to an uninterrupted one.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include <zeroth/backends/llama2c/checkpoint.hpp>
#include <zeroth/backends/llama2c/prompt_classifier.hpp>
#include <zeroth/data/load.hpp>
#include <zeroth/data/sampling.hpp>
#include <zeroth/zeroth.hpp>

using namespace zeroth;
namespace fs = std::filesystem;

namespace {
const std::string kModels = std::string(ZEROTH_SHARED_DIR) + "/models/stories260K/";

struct Fixture {
  llama2c::Model model{llama2c::load_checkpoint(kModels + "stories260K.bin")};
  llama2c::Tokenizer tok = llama2c::Tokenizer::load(kModels + "tok512.bin", 512);
  std::vector<data::Example> train = data::sample_k_shot(
      data::load_task(data::Task::sst2, std::string(ZEROTH_SHARED_DIR) + "/data/sst2/train.tsv"), 2, 32, 3).examples;
  llama2c::PromptClassifier clf{model, tok, data::Task::sst2, train};
  std::vector<std::size_t> all() const {
    std::vector<std::size_t> v(train.size());
    std::iota(v.begin(), v.end(), std::size_t{0});
    return v;
  }
};
}  // namespace

TEST_CASE("the prompt loss is the cross-entropy of the verbalizers' mean log-likelihoods", "[finetune]") {
  Fixture f;
  const std::size_t batch[] = {0, 1, 2, 3};
  const double loss = f.clf.loss(batch);
  // Recompute example 0 by hand: "<s> sentence It was" + " terrible" / " great".
  const auto ctx = f.tok.encode(f.train[0].text + " It was", true, false);
  double s[2];
  const char* verb[2] = {" terrible", " great"};
  for (int c = 0; c < 2; ++c) {
    const auto v = f.tok.encode_continuation(verb[c]);
    std::vector<int> seq = ctx;
    seq.insert(seq.end(), v.begin(), v.end());
    const auto lp = llama2c::next_token_log_probs(f.model, {seq});
    s[c] = lp[0].tail(static_cast<Eigen::Index>(v.size())).cast<double>().mean();
  }
  const int y = f.train[0].label;
  const double ce0 = -(s[y] - std::log(std::exp(s[0]) + std::exp(s[1])));
  const std::size_t one[] = {0};
  CHECK(f.clf.loss(one) == Approx(ce0).epsilon(1e-5));
  CHECK(std::isfinite(loss));
  const auto pred = f.clf.predict(batch);
  REQUIRE(pred.size() == 4);
  CHECK(pred[0] == (s[1] > s[0] ? 1 : 0));
  const auto ev = f.clf.evaluate(4);
  double acc = 0;
  for (int i = 0; i < 4; ++i) acc += pred[i] == f.train[i].label;
  CHECK(ev.accuracy == Approx(acc / 4));
  CHECK(ev.loss == Approx(loss).epsilon(1e-6));
}

TEST_CASE("a short ZO-SGD fine-tune of stories260K lowers the training loss", "[finetune]") {
  Fixture f;
  const auto all = f.all();
  const double before = f.clf.loss(all);
  BufferStore store = make_store(f.clf);
  CHECK(store.dimension() == 260032);
  BackendObjective objective(f.clf, f.clf.size(), 16, 0);
  Result r = ZOSGD({.learning_rate = 1e-4, .epsilon = 1e-3, .max_steps = 150, .seed = 0, .evaluate_final = false})
                 .minimize(objective, store);
  const double after = f.clf.loss(all);
  INFO("training loss " << before << " -> " << after);
  CHECK(r.ok());
  CHECK(after < before - 0.01);
}

TEST_CASE("a fine-tune resumed from a checkpoint is bit-identical to an uninterrupted one", "[finetune]") {
  const auto dir = fs::temp_directory_path() / ("zeroth_ft_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Options o{.learning_rate = 1e-4, .max_steps = 20, .seed = 4, .evaluate_final = false};
  Fixture a, b;
  {
    BufferStore s = make_store(a.clf);
    BackendObjective obj(a.clf, a.clf.size(), 8, 1);
    ZOSGD(o).minimize(obj, s);
  }
  {
    BufferStore s = make_store(b.clf);
    BackendObjective obj(b.clf, b.clf.size(), 8, 1);
    ZOSGD first(o);
    first.minimize(obj, s, StepLimit(9), Checkpointer(dir / "ck.bin", 9));
  }
  Fixture c;  // a fresh process: reload the checkpoint into the original model
  BufferStore s = make_store(c.clf);
  ZOSGD second(o);
  second.state() = load_checkpoint(dir / "ck.bin", s);
  BackendObjective obj(c.clf, c.clf.size(), 8, 1);
  second.minimize(obj, s);
  CHECK(a.model.weights() == c.model.weights());
  CHECK_FALSE(a.model.weights() == b.model.weights());  // the interrupted run really stopped early
  fs::remove_all(dir);
}
