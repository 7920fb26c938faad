// Fine-tuning stories260K through the adapter layer: the prompt-classification and causal-LM losses, short runs that
// lower the training loss, and a resumed run that is bit-identical to an uninterrupted one.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include <zeroth/backends/llama2c/causal_lm.hpp>
#include <zeroth/backends/llama2c/checkpoint.hpp>
#include <zeroth/backends/llama2c/reference.hpp>
#include <zeroth/backends/llama2c/prompt_classifier.hpp>
#include <zeroth/data/load.hpp>
#include <zeroth/data/sampling.hpp>
#include <zeroth/data/text.hpp>
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

TEST_CASE("the causal-LM loss is the mean negative log-likelihood per token, from the naive reference forward",
          "[finetune][lm]") {
  Fixture f;
  const std::vector<std::string> texts = {"Once upon a time, there was a cat.", "The film is a charming romp.", "Hi"};
  llama2c::CausalLM lm(f.model, f.tok, texts);
  REQUIRE(lm.size() == 3);
  // Every token after BOS is predicted from the ones before it, by the naive per-token reference.
  double nll = 0, hits = 0, tokens = 0;
  for (const auto& t : texts) {
    const auto ids = f.tok.encode(t, true, false);
    const auto logits = llama2c::reference::logits(f.model.weights(), ids);
    for (std::size_t p = 0; p + 1 < ids.size(); ++p) {
      const auto& row = logits[p];
      const double mx = *std::max_element(row.begin(), row.end());
      double z = 0;
      for (float v : row) z += std::exp(double(v) - mx);
      nll -= double(row[static_cast<std::size_t>(ids[p + 1])]) - mx - std::log(z);
      hits += row[static_cast<std::size_t>(ids[p + 1])] == mx;
      tokens += 1;
    }
  }
  CHECK(double(lm.targets(0) + lm.targets(1) + lm.targets(2)) == tokens);
  const std::size_t all[] = {0, 1, 2};
  CHECK(lm.loss(all) == Approx(nll / tokens).epsilon(1e-5));
  const auto ev = lm.evaluate(3, 2);  // in two chunks: weighted by tokens all the same
  CHECK(ev.examples == 3);
  CHECK(ev.loss == Approx(nll / tokens).epsilon(1e-5));
  CHECK(ev.accuracy == Approx(hits / tokens));
  CHECK_THROWS_WITH(llama2c::CausalLM(f.model, f.tok, std::vector<std::string>{"ok", ""}),
                    Catch::Contains("text 1 has no tokens"));
}

TEST_CASE("a short ZO-SGD fine-tune of stories260K on SST-2's sentences lowers the causal-LM loss", "[finetune][lm]") {
  Fixture f;
  const auto texts = data::sample_texts(data::read_texts(std::string(ZEROTH_SHARED_DIR) + "/data/sst2/train.tsv"), 64, 1);
  llama2c::CausalLM lm(f.model, f.tok, texts);
  std::vector<std::size_t> all(lm.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  const double before = lm.loss(all);
  BufferStore store = make_store(lm);
  BackendObjective objective(lm, lm.size(), 16, 0);
  Result r = ZOSGD({.learning_rate = 1e-4, .epsilon = 1e-3, .max_steps = 100, .seed = 0, .evaluate_final = false})
                 .minimize(objective, store);
  const double after = lm.loss(all);
  INFO("training loss per token " << before << " -> " << after);
  CHECK(r.ok());
  CHECK(after < before - 0.1);
}
