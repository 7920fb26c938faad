// Parameter-efficient modes of the llama2.c backend: LoRA (exactness at initialisation, merged save) and prefix
// tuning (a prefix holding a prompt's keys and values reproduces the model run on the prompt), as zeroth backends.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <zeroth/backends/llama2c.hpp>

#include "fixtures.hpp"
#include <zeroth/backends/llama2c/checkpoint.hpp>
#include <zeroth/backends/llama2c/prefix_file.hpp>
#include <zeroth/backends/llama2c/prompt_classifier.hpp>
#include <zeroth/data/load.hpp>
#include <zeroth/data/sampling.hpp>
#include <zeroth/zeroth.hpp>

using namespace zeroth;
using namespace zeroth::llama2c;
namespace fs = std::filesystem;

namespace {
using test::kModels;
using test::relative_error;
using test::stories;
const std::vector<Projection> kAll = {Projection::wq, Projection::wk, Projection::wv, Projection::wo,
                                      Projection::w1, Projection::w2, Projection::w3};

// max |a - b| / (1 + |b|): allclose with rtol = atol = 1e-5 passes when this is <= 1e-5.
// The prefix comparisons allow 2e-5: the one-pass reference sums attention over prompt and continuation in one
// product, the prefix path in two, and stories260K's logits (up to ~17) put float32 noise at about 1e-5 (measured
// 1.3e-5 to 2.0e-5 here, depending on how the reference batch is grouped into products; the random model's 2e-6).
constexpr float kPrefixTolerance = 3e-5f;

// Fills every adapter B (which starts at zero) with small random values, as training would.
void randomise_b(Model& m, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  for (auto& t : m.adapter_tensors())
    if (t.name.ends_with(".lora_b"))
      for (std::size_t i = 0; i < t.size; ++i) t.data[i] = normal(rng);
}

using test::Sst2;
}  // namespace

TEST_CASE("peft: a fresh LoRA model computes exactly the base logits", "[peft]") {
  const auto batch = test::random_sequences({1, 9, 40, 3}, 512, 11, 1);
  const Model base(stories());
  Model lora(stories());
  lora.enable_lora({.rank = 4, .alpha = 8, .targets = kAll, .seed = 3});
  REQUIRE(lora.lora().enabled());
  CHECK(lora.lora().scale() == 2.0f);
  CHECK(lora.packed_logits(batch) == base.packed_logits(batch));  // bit for bit: B = 0
  // A is small and random, deterministic in the seed; B is zero.
  Model again(stories());
  again.enable_lora({.rank = 4, .alpha = 8, .targets = kAll, .seed = 3});
  const auto& A = lora.lora().a[0];
  CHECK(A == again.lora().a[0]);
  const double rms = std::sqrt(std::inner_product(A.begin(), A.end(), A.begin(), 0.0) / static_cast<double>(A.size()));
  CHECK(rms == Approx(1.0 / std::sqrt(64.0)).epsilon(0.1));
  CHECK(std::all_of(lora.lora().b[0].begin(), lora.lora().b[0].end(), [](float v) { return v == 0.0f; }));
}

TEST_CASE("peft: merged LoRA weights give the LoRA logits and load with the plain loader", "[peft]") {
  const auto batch = test::random_sequences({17, 5, 33}, 512, 12, 1);
  for (const auto& targets : {std::vector<Projection>{Projection::wq, Projection::wv}, kAll}) {
    Model lora(stories());
    lora.enable_lora({.rank = 8, .alpha = 16, .targets = targets, .seed = 1});
    randomise_b(lora, 5);
    const RowMatrix with_adapters = lora.packed_logits(batch);
    CHECK(relative_error(with_adapters, Model(stories()).packed_logits(batch)) > 1e-3f);  // the adapters matter
    const Model merged(lora.merged_weights());
    CHECK(relative_error(merged.packed_logits(batch), with_adapters) <= 1e-5f);
    const fs::path path = fs::temp_directory_path() / ("zeroth_peft_" + std::to_string(::getpid()) + ".bin");
    save_checkpoint(path, lora.merged_weights(), Format::legacy);
    const Model loaded(load_checkpoint(path));
    fs::remove(path);
    CHECK(relative_error(loaded.packed_logits(batch), with_adapters) <= 1e-5f);
    CHECK(lora.weights() == stories());  // the base stays untouched
  }
  SECTION("random GQA model with a separate classifier") {
    Model lora(test::random_weights(false, 7));
    lora.enable_lora({.rank = 3, .alpha = 6, .targets = kAll, .seed = 2});
    randomise_b(lora, 6);
    const auto b2 = test::random_sequences({20, 1, 47}, 50, 13, 1);
    CHECK(relative_error(Model(lora.merged_weights()).packed_logits(b2), lora.packed_logits(b2)) <= 1e-5f);
  }
}

TEST_CASE("peft: LoRA options are checked", "[peft]") {
  Model m(test::random_weights(false, 7));
  CHECK_THROWS_AS(m.enable_lora({.rank = 0}), std::invalid_argument);
  CHECK_THROWS_AS(m.enable_lora({.rank = 4, .alpha = -1}), std::invalid_argument);
  CHECK_THROWS_AS(m.enable_lora({.rank = 4, .targets = {}}), std::invalid_argument);
  CHECK_THROWS_AS(m.enable_lora({.rank = 4, .targets = {Projection::wq, Projection::wq}}), std::invalid_argument);
  CHECK_THROWS_AS(m.enable_lora({.rank = 33}), std::invalid_argument);  // more than min(rows, cols) of wq (32)
  CHECK_THROWS_WITH(projection_from_string("wz"), Catch::Matchers::Contains("wq, wk, wv, wo, w1, w2, w3"));
  CHECK(projection_from_string("w2") == Projection::w2);
  CHECK_FALSE(m.lora().enabled());
}

TEST_CASE("peft: a prefix holding a prompt's keys and values reproduces the model run on prompt + continuation",
          "[peft]") {
  SECTION("stories260K, ragged continuations, all in one batch") {
    const Model base(stories());
    const std::vector<int> prompt = {1, 403, 261, 378, 302, 268, 336, 400, 259};  // BOS + 8 tokens, p = 9
    const auto conts = test::random_sequences({12, 1, 30}, 512, 21, 1);
    Model prefixed(stories());
    prefixed.enable_prefix(prompt);
    CHECK(prefixed.prefix_tokens() == 9);
    const RowMatrix got = prefixed.packed_logits(conts);
    std::vector<std::vector<int>> whole;
    for (const auto& c : conts) {
      whole.push_back(prompt);
      whole.back().insert(whole.back().end(), c.begin(), c.end());
    }
    const auto ref = base.forward(whole);
    Eigen::Index row = 0;
    for (std::size_t b = 0; b < conts.size(); ++b) {
      const auto T = static_cast<Eigen::Index>(conts[b].size());
      const RowMatrix expect = ref[b].bottomRows(T);
      CHECK(relative_error(got.middleRows(row, T), expect) <= kPrefixTolerance);
      row += T;
    }
    // Continuing from a KV cache works on top of the prefix too.
    std::vector<KvCache> caches(1, KvCache(stories().config, 64));
    const RowMatrix first = prefixed.packed_logits({{conts[2].begin(), conts[2].begin() + 10}}, &caches);
    const RowMatrix rest = prefixed.packed_logits({{conts[2].begin() + 10, conts[2].end()}}, &caches);
    const RowMatrix expect_rest = ref[2].bottomRows(20);
    CHECK(relative_error(first, ref[2].middleRows(9, 10)) <= kPrefixTolerance);
    CHECK(relative_error(rest, expect_rest) <= kPrefixTolerance);
    // The prefix takes RoPE positions: seq_len - p real tokens fit, one more does not.
    const int room = stories().config.seq_len - 9;
    CHECK_NOTHROW(prefixed.packed_logits(test::random_sequences({room}, 512, 22, 1)));
    CHECK_THROWS_AS(prefixed.packed_logits(test::random_sequences({room + 1}, 512, 22, 1)), std::length_error);
  }
  SECTION("random GQA model with a separate classifier") {
    const Model base(test::random_weights(false, 9));
    Model prefixed(test::random_weights(false, 9));
    const auto prompt = test::random_sequences({5}, 50, 23, 1)[0];
    prefixed.enable_prefix(prompt);
    const auto cont = test::random_sequences({40}, 50, 24, 1)[0];
    std::vector<int> whole = prompt;
    whole.insert(whole.end(), cont.begin(), cont.end());
    const RowMatrix expect = base.packed_logits({whole}).bottomRows(40);
    CHECK(relative_error(prefixed.packed_logits({cont}), expect) <= 1e-5f);
  }
  SECTION("bad prefix lengths throw") {
    Model m(test::random_weights(false, 7));
    CHECK_THROWS_AS(m.enable_prefix({}), std::invalid_argument);
    CHECK_THROWS_AS(m.enable_prefix(std::vector<int>(48, 1)), std::invalid_argument);
  }
}

TEST_CASE("peft: the prompt classifier exposes frozen base blocks and trainable adapter blocks", "[peft]") {
  Sst2 s;
  const Config& c = stories().config;
  SECTION("default: every tensor trainable") {
    Model m(stories());
    PromptClassifier clf(m, s.tok, data::Task::sst2, s.train);
    CHECK(make_store(clf).dimension() == c.parameter_count());
  }
  SECTION("LoRA") {
    Model m(stories());
    m.enable_lora({.rank = 8, .alpha = 16, .targets = {Projection::wq, Projection::wv}});
    PromptClassifier clf(m, s.tok, data::Task::sst2, s.train);
    BufferStore store = make_store(clf);
    const std::size_t d = c.dim, kv = c.kv_dim(), L = c.n_layers;
    CHECK(store.dimension() == L * 8 * ((d + d) + (kv + d)));
    CHECK_FALSE(store.block("layers.0.attention.wq").flags.trainable);
    CHECK(store.block("layers.0.attention.wq.lora_a").flags.trainable);
    CHECK(store.block("layers.4.attention.wv.lora_b").shape == std::vector<std::size_t>{kv, 8});
  }
  SECTION("prefix") {
    Model m(stories());
    m.enable_prefix({1, 403, 261, 378});
    PromptClassifier clf(m, s.tok, data::Task::sst2, s.train);
    BufferStore store = make_store(clf);
    CHECK(store.dimension() == static_cast<std::size_t>(2 * c.n_layers * 4 * c.kv_dim()));
    CHECK_FALSE(store.block("tok_embeddings").flags.trainable);
    CHECK(store.block("layers.2.attention.prefix_values").flags.trainable);
    CHECK_FALSE(store.block("layers.2.attention.prefix_values").flags.decay);
  }
}

TEST_CASE("peft: short LoRA and prefix fine-tunes lower the training loss and leave the base untouched", "[peft]") {
  Sst2 s;
  const auto all = s.all();
  for (bool prefix : {false, true}) {
    Model m(stories());
    if (prefix)
      m.enable_prefix(s.tok.encode("Once upon a time, there was a", true, false));
    else
      m.enable_lora({.rank = 8, .alpha = 16});
    PromptClassifier clf(m, s.tok, data::Task::sst2, s.train);
    const double before = clf.loss(all);
    BufferStore store = make_store(clf);
    BackendObjective objective(clf, clf.size(), 16, 0);
    // The loss is far less sensitive to the prefix than to LoRA (measured g ~ 1e-2 against ~1): it needs a larger lr.
    const double lr = prefix ? 1.0 : 1e-3;
    Result r = ZOSGD({.learning_rate = lr, .epsilon = 1e-2, .max_steps = 60, .seed = 0, .evaluate_final = false})
                   .minimize(objective, store);
    const double after = clf.loss(all);
    INFO((prefix ? "prefix" : "LoRA") << ": training loss " << before << " -> " << after);
    CHECK(r.ok());
    CHECK(after < before - 0.01);
    CHECK(m.weights() == stories());
  }
}

TEST_CASE("peft: a LoRA fine-tune resumed from a checkpoint is bit-identical", "[peft]") {
  Sst2 s;
  const auto path = fs::temp_directory_path() / ("zeroth_peft_ck_" + std::to_string(::getpid()) + ".bin");
  const Options o{.learning_rate = 1e-2, .epsilon = 1e-2, .max_steps = 12, .seed = 4, .evaluate_final = false};
  auto make = [] {
    Model m(stories());
    m.enable_lora({.rank = 4, .alpha = 8, .targets = {Projection::wk, Projection::w2}, .seed = 9});
    return m;
  };
  Model a = make(), b = make(), c = make();
  {
    PromptClassifier clf(a, s.tok, data::Task::sst2, s.train);
    BufferStore st = make_store(clf);
    BackendObjective obj(clf, clf.size(), 8, 1);
    ZOSGD(o).minimize(obj, st);
  }
  {
    PromptClassifier clf(b, s.tok, data::Task::sst2, s.train);
    BufferStore st = make_store(clf);
    BackendObjective obj(clf, clf.size(), 8, 1);
    ZOSGD(o).minimize(obj, st, StepLimit(5), Checkpointer(path, 5));
  }
  PromptClassifier clf(c, s.tok, data::Task::sst2, s.train);
  BufferStore st = make_store(clf);
  ZOSGD second(o);
  second.state() = load_checkpoint(path, st);
  BackendObjective obj(clf, clf.size(), 8, 1);
  second.minimize(obj, st);
  fs::remove(path);
  CHECK(a.lora().a == c.lora().a);
  CHECK(a.lora().b == c.lora().b);
  CHECK_FALSE(a.lora().b == b.lora().b);
  CHECK(c.weights() == stories());
}

TEST_CASE("peft: prefix.bin round-trips, and bad prefix files are rejected naming the file", "[peft][io]") {
  const auto dir = fs::temp_directory_path() / ("zeroth_prefix_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Model m(stories());
  const Config& c = m.config();
  const Tokenizer tok = Tokenizer::load(kModels + "tok512.bin", c.vocab_size);
  m.enable_prefix(tok.encode("Once upon a time", true, false));
  save_prefix(dir / "prefix.bin", m.prefix(), c);
  Model m2(stories());
  m2.set_prefix(load_prefix(dir / "prefix.bin", c));
  CHECK(m2.prefix().tokens == m.prefix().tokens);
  CHECK(m2.prefix().keys == m.prefix().keys);
  CHECK(m2.prefix().values == m.prefix().values);
  const std::vector<std::vector<int>> seq = {tok.encode("Lily went to the park", true, false)};
  CHECK(relative_error(m2.packed_logits(seq), m.packed_logits(seq)) == 0.0f);

  std::string bytes;
  {
    std::ifstream in(dir / "prefix.bin", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto write = [&](const std::string& name, std::string b) {
    std::ofstream(dir / name, std::ios::binary) << b;
    return dir / name;
  };
  auto error_of = [&](const fs::path& p) -> std::string {
    try {
      load_prefix(p, c);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "no error";
  };
  const fs::path truncated = write("truncated.bin", bytes.substr(0, bytes.size() - 3));
  CHECK_THAT(error_of(truncated), Catch::Contains(truncated.string()) && Catch::Contains("truncated"));
  const fs::path longer = write("longer.bin", bytes + "xyzw");
  CHECK_THAT(error_of(longer), Catch::Contains("4 bytes after"));
  std::string other = bytes;
  other[0] = 9;  // 9 layers
  CHECK_THAT(error_of(write("layers.bin", other)), Catch::Contains("is for 9 layers"));
  other = bytes;
  std::memset(other.data() + 4, 0, 4);  // 0 tokens
  CHECK_THAT(error_of(write("tokens.bin", other)), Catch::Contains("has 0 tokens"));
  other = bytes;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(other.data() + 12, &nan, 4);
  CHECK_THAT(error_of(write("nan.bin", other)), Catch::Contains("not finite"));
  CHECK_THAT(error_of(dir / "missing.bin"), Catch::Contains("cannot open"));
  Prefix wrong = m.prefix();
  wrong.keys.pop_back();
  CHECK_THROWS_WITH(m2.set_prefix(wrong), Catch::Contains("does not fit"));
  fs::remove_all(dir);
}
