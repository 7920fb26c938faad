// Tests for the llama2.c backend against the real stories260K model and a naive run.c-style reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <limits>

#include "zeroth/backends/llama2c.hpp"
#include "zeroth/backends/llama2c/prefix_file.hpp"
#include "zeroth/backends/llama2c/reference.hpp"
#include "fixtures.hpp"
#include "support/temp_file.hpp"

#ifndef ZEROTH_SHARED_DIR
#error "define ZEROTH_SHARED_DIR to the shared data folder"
#endif

namespace {

using zeroth::test::TempDir;
using zeroth::test::TempFile;
using zeroth::test::error_of;

namespace fs = std::filesystem;
using namespace zeroth::llama2c;
using Catch::Matchers::Contains;
using test::relative_error;

const fs::path model_dir = fs::path(ZEROTH_SHARED_DIR) / "models" / "stories260K";
const fs::path legacy_path = model_dir / "stories260K.bin";
const fs::path v1_path = model_dir / "stories260K_v1.bin";
const fs::path tokenizer_path = model_dir / "tok512.bin";

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

const Weights& stories() {
  static const Weights w = load_checkpoint(legacy_path);
  return w;
}

const Model& stories_model() {
  static const Model m(stories());
  return m;
}

// Largest |batched - reference| / (1 + |reference|) over every position of every sequence: allclose with
// rtol = atol = 1e-5 passes when this is <= 1e-5. (A purely absolute 1e-5 is below float noise for stories260K,
// whose logits reach 16: both float implementations differ from a double-precision forward by ~1.1e-5 there.)
float max_forward_error(const Model& model, const std::vector<std::vector<int>>& batch) {
  const auto logits = model.forward(batch);
  REQUIRE(logits.size() == batch.size());
  float worst = 0.0f;
  for (std::size_t b = 0; b < batch.size(); ++b) {
    const auto ref = reference::logits(model.weights(), batch[b]);
    REQUIRE(logits[b].rows() == static_cast<Eigen::Index>(batch[b].size()));
    for (std::size_t t = 0; t < ref.size(); ++t)
      for (std::size_t v = 0; v < ref[t].size(); ++v)
        worst = std::max(worst, std::abs(logits[b](static_cast<Eigen::Index>(t), static_cast<Eigen::Index>(v)) - ref[t][v]) /
                                    (1.0f + std::abs(ref[t][v])));
  }
  return worst;
}

std::string expected_greedy_text() {
  const std::string md = read_bytes(model_dir / "EXPECTED.md");
  const std::string begin = "-----BEGIN GREEDY OUTPUT-----\n", end = "\n-----END GREEDY OUTPUT-----";
  const auto b = md.find(begin), e = md.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  return md.substr(b + begin.size(), e - b - begin.size());
}

// Text printed by run.c for `generated` tokens following `prev`.
std::string print(const Tokenizer& tok, int prev, const std::vector<int>& generated) {
  std::string out;
  for (int t : generated) {
    out += tok.decode_piece(prev, t);
    prev = t;
  }
  return out;
}

}  // namespace

TEST_CASE("llama2c: stories260K header matches its documented architecture", "[llama2c]") {
  const Config& c = stories().config;
  CHECK(c.dim == 64);
  CHECK(c.hidden_dim == 172);
  CHECK(c.n_layers == 5);
  CHECK(c.n_heads == 8);
  CHECK(c.n_kv_heads == 4);
  CHECK(c.vocab_size == 512);
  CHECK(c.seq_len == 512);
  CHECK(c.shared_classifier);
  CHECK(c.parameter_count() == 260032);
  std::size_t total = 0;
  Weights copy = stories();
  for (const auto& t : copy.tensors()) total += t.size;
  CHECK(total == 260032);
  CHECK(copy.tensors()[2].name == "layers.0.attention.wq");
}

TEST_CASE("llama2c: greedy generation from BOS reproduces EXPECTED.md", "[llama2c]") {
  const auto tok = Tokenizer::load(tokenizer_path, stories().config.vocab_size);
  const auto generated = generate_greedy(stories_model(), {Tokenizer::bos}, 256);
  CHECK(generated.size() == 256);
  CHECK(print(tok, Tokenizer::bos, generated) == expected_greedy_text());

  SECTION("the prompt \"Once upon a time\" gives the same continuation") {
    const auto prompt = tok.encode("Once upon a time", true, false);
    const auto more = generate_greedy(stories_model(), prompt, 40);
    const std::string text = tok.decode(prompt) + print(tok, prompt.back(), more);
    CHECK(expected_greedy_text().rfind(text, 0) == 0);
  }
}

TEST_CASE("llama2c: legacy and v1 files hold identical weights and re-save byte for byte", "[llama2c]") {
  Format legacy_format{}, v1_format{};
  const Weights legacy = load_checkpoint(legacy_path, &legacy_format);
  const Weights v1 = load_checkpoint(v1_path, &v1_format);
  CHECK(legacy_format == Format::legacy);
  CHECK(v1_format == Format::v1);
  CHECK(legacy == v1);

  TempDir dir;
  save_checkpoint(dir / "v1.bin", legacy.config, legacy, Format::v1);
  CHECK(read_bytes(dir / "v1.bin") == read_bytes(v1_path));

  save_checkpoint(dir / "legacy.bin", legacy, Format::legacy);
  const std::string ours = read_bytes(dir / "legacy.bin"), theirs = read_bytes(legacy_path);
  REQUIRE(ours.size() == theirs.size());
  const std::size_t params_end = 28 + 260032 * 4;  // the RoPE tables after it are unused and may differ in the ulps
  CHECK(ours.compare(0, params_end, theirs, 0, params_end) == 0);
}

TEST_CASE("llama2c: save then load round-trips in both formats", "[llama2c]") {
  TempDir dir;
  for (bool shared : {true, false})
    for (Format f : {Format::legacy, Format::v1}) {
      const Weights w = test::random_weights(shared, 7);
      const auto path = dir / "model.bin";
      save_checkpoint(path, w, f);
      Format detected{};
      const Weights back = load_checkpoint(path, &detected);
      CHECK(detected == f);
      CHECK(back == w);
      CHECK(back.config.shared_classifier == shared);
      CHECK(fs::exists(path));
      CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);  // no temporaries left
    }
}

TEST_CASE("llama2c: truncated checkpoints throw naming the file", "[llama2c]") {
  TempDir dir;
  for (const fs::path& source : {legacy_path, v1_path}) {
    const std::string bytes = read_bytes(source);
    for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{4}, std::size_t{20}, std::size_t{27},
                            std::size_t{28}, std::size_t{255}, std::size_t{256}, std::size_t{1000}, bytes.size() / 2,
                            bytes.size() - 4, bytes.size() - 1}) {
      const auto path = dir / ("cut_" + std::to_string(cut) + ".bin");
      write_bytes(path, bytes.substr(0, cut));
      INFO(source.filename().string() << " cut at " << cut);
      CHECK_THROWS_WITH(load_checkpoint(path), Contains(path.string()) && Contains("truncated"));
      CHECK_THROWS_WITH(load_checkpoint(path, zeroth::DType::bf16), Contains(path.string()) && Contains("truncated"));
    }
    const auto path = dir / "long.bin";
    write_bytes(path, bytes + "xxxx");
    CHECK_THROWS_WITH(load_checkpoint(path), Contains(path.string()) && Contains("trailing"));
    CHECK_THROWS_WITH(load_checkpoint(path, zeroth::DType::bf16), Contains(path.string()) && Contains("trailing"));
  }
  CHECK_THROWS_WITH(load_checkpoint(dir / "missing.bin"), Contains("missing.bin"));
  CHECK_THROWS_WITH(load_checkpoint(dir.path), Contains(dir.path.string()) && Contains("not a regular file"));
}

TEST_CASE("llama2c: corrupt checkpoint headers throw naming the file and the problem", "[llama2c]") {
  TempDir dir;
  const std::string legacy = read_bytes(legacy_path), v1 = read_bytes(v1_path);
  auto corrupt = [&](const std::string& original, std::size_t offset, std::int32_t value, const std::string& problem) {
    std::string bytes = original;
    std::memcpy(bytes.data() + offset, &value, sizeof value);
    const auto path = dir / "corrupt.bin";
    write_bytes(path, bytes);
    INFO("offset " << offset << " value " << value);
    CHECK_THROWS_WITH(load_checkpoint(path), Contains(path.string()) && Contains(problem));
  };
  for (auto [bytes, base] : {std::pair{legacy, std::size_t{0}}, std::pair{v1, std::size_t{8}}}) {
    corrupt(bytes, base + 0, -64, "dim = -64 is not positive");
    corrupt(bytes, base + 0, 0, "dim = 0");
    corrupt(bytes, base + 0, 63, "does not divide dim");
    corrupt(bytes, base + 12, 6, "n_heads = 6 does not divide dim");
    corrupt(bytes, base + 16, 3, "does not divide n_heads");
    corrupt(bytes, base + 16, 16, "n_kv_heads = 16 exceeds");
    corrupt(bytes, base + 4, 2000000000, "hidden_dim = 2000000000 exceeds");
    corrupt(bytes, base + 8, 2000000000, "n_layers");
    corrupt(bytes, base + 24, 0, "seq_len = 0");
    corrupt(bytes, base + 24, 2000000000, "seq_len");
    corrupt(bytes, base + 12, 64, "head size 1 is odd");
  }
  corrupt(legacy, 20, std::numeric_limits<std::int32_t>::min(), "vocab_size");
  corrupt(legacy, 20, -512, "truncated");  // unshared classifier claimed but absent
  corrupt(legacy, 20, 1 << 24, "truncated");
  corrupt(v1, 4, 2, "unsupported format version 2");
  corrupt(v1, 36, 7, "shared_classifier flag is 7");
}

TEST_CASE("llama2c: corrupt tokenizer files throw naming the file", "[llama2c]") {
  TempDir dir;
  const std::string bytes = read_bytes(tokenizer_path);
  const auto path = dir / "tok.bin";
  for (std::size_t cut : {std::size_t{0}, std::size_t{2}, std::size_t{4}, std::size_t{7}, std::size_t{12},
                          std::size_t{14}, bytes.size() / 2, bytes.size() - 1}) {
    write_bytes(path, bytes.substr(0, cut));
    INFO("cut at " << cut);
    CHECK_THROWS_WITH(Tokenizer::load(path, 512), Contains(path.string()) && Contains("truncated"));
  }
  auto corrupt = [&](std::size_t offset, std::int32_t value, const std::string& problem) {
    std::string b = bytes;
    std::memcpy(b.data() + offset, &value, sizeof value);
    write_bytes(path, b);
    CHECK_THROWS_WITH(Tokenizer::load(path, 512), Contains(path.string()) && Contains(problem));
  };
  corrupt(0, -1, "max_token_length = -1");
  corrupt(0, 0, "max_token_length = 0");
  corrupt(8, -5, "token 0 has length -5");
  corrupt(8, 1 << 30, "token 0 has length");
  corrupt(8, 6, "token 1 has length");  // token 0 is really 5 long: what follows is misread and caught
  write_bytes(path, bytes + "x");
  CHECK_THROWS_WITH(Tokenizer::load(path, 512), Contains(path.string()) && Contains("trailing"));
  CHECK_THROWS_WITH(Tokenizer::load(path, 511), Contains(path.string()) && Contains("trailing"));
  // A whole tokenizer of another size is another model's, not a truncated or overlong one.
  CHECK_THROWS_WITH(Tokenizer::load(tokenizer_path, 513),
                    Contains("holds 512 tokens, but the model's vocab_size is 513") && Contains("another model"));
}

// The pieces of tok512.bin: its header, then each token's bytes (score, length, text).
std::pair<std::string, std::vector<std::string>> tokenizer_pieces() {
  const std::string bytes = read_bytes(tokenizer_path);
  std::vector<std::string> tokens;
  std::size_t pos = 4;
  while (pos < bytes.size()) {
    std::int32_t len;
    std::memcpy(&len, bytes.data() + pos + 4, 4);
    tokens.push_back(bytes.substr(pos, 8 + static_cast<std::size_t>(len)));
    pos += 8 + static_cast<std::size_t>(len);
  }
  return {bytes.substr(0, 4), tokens};
}

TEST_CASE("llama2c: a tokenizer of another vocabulary is named as such, not as truncated or overlong", "[llama2c]") {
  TempDir dir;
  const auto [header, tokens] = tokenizer_pieces();
  REQUIRE(tokens.size() == 512);
  std::string fewer = header, more = header;
  for (std::size_t i = 0; i < 400; ++i) fewer += tokens[i];
  for (std::size_t i = 0; i < 600; ++i) more += tokens[i % 512];
  write_bytes(dir / "fewer.bin", fewer);
  write_bytes(dir / "more.bin", more);
  // Before: "'fewer.bin' is truncated: expected 4 bytes of token 400" and "has 1230 unexpected trailing bytes".
  CHECK_THROWS_WITH(Tokenizer::load(dir / "fewer.bin", 512),
                    Contains((dir / "fewer.bin").string()) && Contains("holds 400 tokens") &&
                        Contains("vocab_size is 512") && !Contains("truncated"));
  CHECK_THROWS_WITH(Tokenizer::load(dir / "more.bin", 512),
                    Contains("holds 600 tokens") && Contains("vocab_size is 512") && !Contains("trailing"));
  CHECK(Tokenizer::load(dir / "fewer.bin", 400).vocab_size() == 400);
}

TEST_CASE("llama2c: a vocabulary too small for BOS and EOS is refused when the tokenizer loads", "[llama2c]") {
  TempDir dir;
  const auto [header, tokens] = tokenizer_pieces();
  for (int n : {1, 2}) {
    std::string file = header;
    for (int i = 0; i < n; ++i) file += tokens[static_cast<std::size_t>(i)];
    write_bytes(dir / "tiny.bin", file);
    INFO(n << " tokens");
    // Before: loaded, then std::out_of_range from decode_piece (BOS = 1, EOS = 2 are not in it).
    CHECK_THROWS_WITH(Tokenizer::load(dir / "tiny.bin", n),
                      Contains("vocab_size " + std::to_string(n)) && Contains("BOS = 1 and EOS = 2"));
  }
}

TEST_CASE("llama2c: a folder given as tokenizer or prefix file is named as a folder", "[llama2c]") {
  TempDir dir;
  // Before: "basic_filebuf::underflow error reading the file: Is a directory", naming nothing.
  CHECK_THROWS_WITH(Tokenizer::load(dir.path, 512), Contains(dir.path.string()) && Contains("is a folder, not a file"));
  CHECK_THROWS_WITH(load_prefix(dir.path, stories().config),
                    Contains(dir.path.string()) && Contains("is a folder, not a file"));
}

TEST_CASE("llama2c: a checkpoint holding a NaN or an infinity is refused, naming the tensor and element", "[llama2c]") {
  TempDir dir;
  const std::string bytes = read_bytes(legacy_path);
  const std::size_t dim = 64, vocab = 512;
  struct Case {
    std::size_t float_index;  // after the 7-int header
    float value;
    const char* tensor;
    const char* what;
  };
  const float inf = std::numeric_limits<float>::infinity();
  for (const Case& c : {Case{100, std::nanf(""), "tok_embeddings", "NaN at element 100"},
                        Case{vocab * dim + 3, -inf, "layers.0.attention_norm", "-inf at element 3"}}) {
    std::string b = bytes;
    std::memcpy(b.data() + 28 + 4 * c.float_index, &c.value, 4);
    const auto path = dir / "bad.bin";
    write_bytes(path, b);
    INFO(c.tensor);
    // Before: loaded; the fine-tuner then printed "before: held-out loss nan".
    for (auto dtype : {zeroth::DType::f32, zeroth::DType::bf16})
      CHECK_THROWS_WITH(load_checkpoint(path, dtype),
                        Contains(path.string()) && Contains(std::string("tensor '") + c.tensor + "'") &&
                            Contains(c.what));
  }
}

TEST_CASE("llama2c: a write that fails part-way (a full disk) names the file and the error", "[llama2c]") {
  TempDir dir;
  const auto path = dir / "out.bin";
  // A file-size limit makes write(2) fail with EFBIG part-way through the model, as a full disk fails with ENOSPC.
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  const auto previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 100000;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string message;
  try {
    save_checkpoint(path, stories(), Format::legacy);
  } catch (const std::exception& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  // A regression test: io::write_atomic already turned the inner "zeroth: short write" into this message (8e16f1e);
  // detail::write_raw now names the file and errno itself too.
  CHECK_THAT(message, Contains("writing '" + path.string() + "' failed") && Contains("File too large"));
  CHECK_FALSE(fs::exists(path));
  for (const auto& e : fs::directory_iterator(dir.path)) FAIL("left behind: " << e.path());
}

TEST_CASE("llama2c: batched forward over ragged sequences matches the reference per token", "[llama2c]") {
  SECTION("stories260K") {
    const auto batch = test::random_sequences({1, 7, 64, 0, 33, 2}, 512, 1, 0);
    CHECK(max_forward_error(stories_model(), batch) <= 1e-5f);
  }
  SECTION("random weights, grouped-query attention, separate classifier") {
    for (bool shared : {true, false}) {
      const Model model(test::random_weights(shared, 7));
      const auto batch = test::random_sequences({48, 5, 1, 20}, 50, 2, 0);
      CHECK(max_forward_error(model, batch) <= 1e-5f);
    }
  }
  SECTION("padded token matrix") {
    const auto batch = test::random_sequences({10, 3, 6}, 512, 3, 0);
    Eigen::MatrixXi padded = Eigen::MatrixXi::Zero(3, 10);
    std::vector<int> lengths;
    for (int b = 0; b < 3; ++b) {
      lengths.push_back(static_cast<int>(batch[b].size()));
      for (int t = 0; t < lengths[b]; ++t) padded(b, t) = batch[b][t];
      for (int t = lengths[b]; t < 10; ++t) padded(b, t) = 511;  // padding content must not matter
    }
    const auto a = stories_model().forward(padded, lengths), b = stories_model().forward(batch);
    for (int i = 0; i < 3; ++i) CHECK(a[i] == b[i]);
  }
  SECTION("continuing from a KV cache equals one pass") {
    const auto batch = test::random_sequences({30, 17}, 512, 4, 0);
    const RowMatrix whole = stories_model().packed_logits(batch);
    std::vector<KvCache> caches(2, KvCache(stories().config, 64));
    std::vector<std::vector<int>> first = {{batch[0].begin(), batch[0].begin() + 12}, {batch[1].begin(), batch[1].begin() + 1}};
    std::vector<std::vector<int>> rest = {{batch[0].begin() + 12, batch[0].end()}, {batch[1].begin() + 1, batch[1].end()}};
    const RowMatrix a = stories_model().packed_logits(first, &caches), b = stories_model().packed_logits(rest, &caches);
    CHECK(relative_error(a.topRows(12), whole.topRows(12)) <= 1e-5f);
    CHECK(relative_error(b.topRows(18), whole.middleRows(12, 18)) <= 1e-5f);
    CHECK(relative_error(a.bottomRows(1), whole.middleRows(30, 1)) <= 1e-5f);
    CHECK(relative_error(b.bottomRows(16), whole.bottomRows(16)) <= 1e-5f);
    CHECK(caches[0].length == 30);
  }
  SECTION("too long sequences and bad token ids throw") {
    CHECK_THROWS_AS(stories_model().forward(test::random_sequences({513}, 512, 5, 0)), std::length_error);
    CHECK_THROWS_AS(stories_model().forward({{1, 512}}), std::out_of_range);
    CHECK_THROWS_AS(stories_model().forward({{-1}}), std::out_of_range);
  }
}

TEST_CASE("llama2c: target log-probabilities are the gathered log-softmax of the logits", "[llama2c]") {
  const auto batch = test::random_sequences({9, 1, 4}, 512, 6, 0);
  const auto lp = next_token_log_probs(stories_model(), batch);
  REQUIRE(lp.size() == 3);
  CHECK(lp[1].size() == 0);
  for (std::size_t b = 0; b < batch.size(); ++b) {
    const auto ref = reference::logits(stories(), batch[b]);
    for (std::size_t t = 0; t + 1 < batch[b].size(); ++t) {
      double sum = 0.0;
      for (float l : ref[t]) sum += std::exp(static_cast<double>(l));
      const double expected = ref[t][static_cast<std::size_t>(batch[b][t + 1])] - std::log(sum);
      CHECK(lp[b](static_cast<Eigen::Index>(t)) == Approx(expected).margin(1e-5));
    }
  }
  const auto masked = target_log_probs(stories_model(), {{1, 2, 3}}, {{-1, 5, -1}});
  CHECK(masked[0](0) == 0.0f);
  CHECK(masked[0](1) < 0.0f);
  CHECK(masked[0](2) == 0.0f);
  CHECK_THROWS(target_log_probs(stories_model(), {{1, 2}}, {{3}}));
}

TEST_CASE("llama2c: tokenizer encodes like run.c and round-trips text", "[llama2c]") {
  const auto tok = Tokenizer::load(tokenizer_path, 512);
  CHECK(tok.piece(1) == "\n<s>\n");
  CHECK(tok.piece(3) == "<0x00>");
  const auto ids = tok.encode("Once upon a time", true, true);
  CHECK(ids.front() == Tokenizer::bos);
  CHECK(ids.back() == Tokenizer::eos);
  CHECK(ids.size() < 10);  // merged, not one token per byte
  CHECK(tok.encode("", false, false).empty());
  for (const std::string& text : std::vector<std::string>{"Once upon a time, Lily saw a big dog.", "  two spaces, tabs\tand\nnewlines",
                                 "Ünïcödé ☃ and bytes \x01\x7f!", std::string("nul\0byte", 8)}) {
    INFO(text);
    const auto encoded = tok.encode(text, true, false);
    for (int id : encoded) CHECK((id >= 0 && id < 512));
    CHECK(tok.decode(encoded) == text);
  }
  const int once = tok.encode("Once", false, false)[0];
  REQUIRE(tok.piece(once).front() == ' ');  // the dummy prefix's space
  CHECK(tok.decode_piece(1, once) == tok.piece(once).substr(1));
  CHECK(tok.decode_piece(5, once) == tok.piece(once));
  CHECK(tok.decode_piece(3 + 'H', 3 + 'i') == "i");  // "<0x69>" decodes to the raw byte
}
