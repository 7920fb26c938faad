// Tests for zeroth/tokenizers: each stage of the BERT WordPiece tokenizer on its own, every code point against
// Hugging Face tokenizers, then the ids of every text of shared/data against the fixture HF wrote
// (scripts/gen_wordpiece_fixture.py), pairs and truncation, and the errors for bad vocabularies and configs.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "zeroth/tokenizers/bert_normalizer.hpp"
#include "zeroth/tokenizers/bert_pre_tokenizer.hpp"
#include "zeroth/tokenizers/bert_tokenizer.hpp"
#include "zeroth/tokenizers/wordpiece.hpp"
#include "support/temp_file.hpp"

#ifndef ZEROTH_SHARED_DIR
#define ZEROTH_SHARED_DIR "../shared"
#endif

namespace zt = zeroth::tokenizers;
namespace fs = std::filesystem;

namespace {

using zeroth::test::TempDir;
using zeroth::test::TempFile;
using zeroth::test::error_of;

fs::path shared_dir() { return fs::path(ZEROTH_SHARED_DIR); }
fs::path model_dir() { return shared_dir() / "models" / "all-MiniLM-L6-v2"; }
fs::path fixture_dir() { return fs::path(__FILE__).parent_path().parent_path() / "fixtures" / "wordpiece"; }

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

const zt::BertTokenizer& minilm() {
  static const zt::BertTokenizer tokenizer = zt::BertTokenizer::from_folder(model_dir());
  return tokenizer;
}
std::string show_ids(const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

zt::WordPiece small_model(zt::WordPieceOptions options = {}) {
  return zt::WordPiece(
      {"[UNK]", "un", "##aff", "##able", "a",     "##a",   "##b",    "ab",    "é",     "##é", "x",      "##x",
       "##",    "#",  "##!",   "[CLS]",  "[SEP]", "[PAD]", "[MASK]", "hello", "world", "!",   "un##aff"},
      std::move(options));
}

}  // namespace

TEST_CASE("BertNormalizer: each option on its own", "[tokenizers]") {
  const zt::BertNormalizer none{
      .clean_text = false, .handle_chinese_chars = false, .strip_accents = false, .lowercase = false};
  CHECK(none.normalize_str("A\tB\x01 É中") == "A\tB\x01 É中");

  auto clean = none;
  clean.clean_text = true;
  CHECK(clean.normalize_str(std::string_view("a\0b\1\177c", 6)) == "abc");
  CHECK(clean.normalize_str("a\tb\nc\rd\u00a0e\u3000f\u2028g") == "a b c d e f g");
  CHECK(clean.normalize_str("a\u200bb\u00adc\ufeffd\ufffde\U000f0000f\u0085g\013h") ==
        "abcdefgh");                                 // Cf Co Cc     // Cf, Co, Cc
  CHECK(clean.normalize_str("\u0378") == "\u0378");  // unassigned (Cn) is not a control character for HF

  auto chinese = none;
  chinese.handle_chinese_chars = true;
  CHECK(chinese.normalize_str("ab中文c") == "ab 中  文 c");
  CHECK(chinese.normalize_str("한국어 カタカナ") == "한국어 カタカナ");  // Hangul and kana are not CJK ideographs

  auto strip = none;
  strip.strip_accents = true;
  CHECK(strip.normalize_str("Café naïve résumé") == "Cafe naive resume");
  CHECK(strip.normalize_str("İ") == "I");
  CHECK(strip.normalize_str("한") == "\u1112\u1161\u11ab");                      // Hangul syllables decompose into jamo
  CHECK(strip.normalize_str("\U0001d16d\U0001d165") == "\U0001d165\U0001d16d");  // canonical order (Mc survive)

  auto lower = none;
  lower.lowercase = true;
  lower.strip_accents = false;
  CHECK(lower.normalize_str("ÀBC ΟΔΟΣ МОСКВА") == "àbc οδοσ москва");  // one character at a time: no final sigma
  CHECK(lower.normalize_str("İ") == "i\u0307");
  CHECK(lower.normalize_str("Straße ẞ") == "straße ß");

  const zt::BertNormalizer bert;  // HF's defaults: everything on, strip_accents following lowercase
  CHECK(bert.normalize_str("Héllo\tWÖRLD 中") == "hello world  中 ");
  CHECK(bert.normalize_str("İstanbul") == "istanbul");  // stripped before it is lowercased
  const zt::BertNormalizer cased{.lowercase = false};
  CHECK(cased.normalize_str("Héllo") == "Héllo");  // strip_accents unset follows lowercase
  CHECK(zt::BertNormalizer{.strip_accents = false}.normalize_str("Café") == "café");
  CHECK(error_of<std::invalid_argument>([&] { bert.normalize_str("ab\xff"); }).find("byte offset 2") !=
        std::string::npos);
}

TEST_CASE("BertPreTokenizer: whitespace splits, punctuation is isolated", "[tokenizers]") {
  const zt::BertPreTokenizer pre;
  using V = std::vector<std::string>;
  CHECK(pre.pre_tokenize_str("Hey friend!     How are you?!?") ==
        V{"Hey", "friend", "!", "How", "are", "you", "?", "!", "?"});
  CHECK(pre.pre_tokenize_str("") == V{});
  CHECK(pre.pre_tokenize_str(" \t\n ") == V{});
  CHECK(pre.pre_tokenize_str("don't e-mail $5 a+b") == V{"don", "'", "t", "e", "-", "mail", "$", "5", "a", "+", "b"});
  CHECK(pre.pre_tokenize_str("«x» ¿y? a\u00a0b c\u3000d") == V{"«", "x", "»", "¿", "y", "?", "a", "b", "c", "d"});
  CHECK(pre.pre_tokenize_str("a\037b") == V{"a\037b"});  // U+001F is not White_Space
  CHECK(pre.pre_tokenize_str("😀x") == V{"😀x"});          // symbols (So) are not punctuation
  const std::u32string text = U"ab, c";
  const auto words = pre.pre_tokenize(text);
  REQUIRE(words.size() == 3);
  CHECK(words[0].data() == text.data());  // views into the text
}

TEST_CASE("BertNormalizer and BertPreTokenizer match HF on every code point", "[tokenizers]") {
  // codepoints.txt: what HF's stages make of each code point alone (see scripts/gen_wordpiece_fixture.py).
  std::istringstream in(read_file(fixture_dir() / "codepoints.txt"));
  const zt::BertNormalizer full;
  const zt::BertNormalizer lower_only{
      .clean_text = false, .handle_chinese_chars = false, .strip_accents = false, .lowercase = true};
  const zt::BertNormalizer strip_only{
      .clean_text = false, .handle_chinese_chars = false, .strip_accents = true, .lowercase = false};
  std::string section;
  std::vector<std::u32string> expected;  // per code point, for the normalizer sections
  std::vector<char> expected_class;      // per code point, for the pre-tokenizer: 'o', 'w' or 'p'
  auto reset = [&] {
    expected.assign(0x110000, {});
    for (char32_t cp = 0; cp < 0x110000; ++cp) expected[cp] = std::u32string(1, cp);
    expected_class.assign(0x110000, 'o');
  };
  std::size_t checked = 0, mismatches = 0;
  std::string first_mismatches;
  auto report = [&](char32_t cp, const std::string& got, const std::string& want) {
    if (++mismatches <= 10) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
      first_mismatches += section + " " + hex + ": got " + got + ", HF " + want + "\n";
    }
  };
  auto hexes = [](std::u32string_view s) {
    std::string out;
    for (char32_t c : s) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "%s%X", out.empty() ? "" : " ", static_cast<unsigned>(c));
      out += hex;
    }
    return "[" + out + "]";
  };
  auto finish = [&] {
    if (section.empty()) return;
    for (char32_t cp = 0; cp < 0x110000; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      const std::u32string one(1, cp);
      ++checked;
      if (section == "pre_tokenizer") {
        std::vector<std::u32string_view> words;
        const std::u32string text = U"a" + one + U"a";
        zt::BertPreTokenizer{}.for_each_word(text, [&](std::u32string_view w) { words.push_back(w); });
        const char got = words.size() == 1 ? 'o' : words.size() == 2 ? 'w' : 'p';
        if (got != expected_class[cp]) report(cp, std::string(1, got), std::string(1, expected_class[cp]));
        continue;
      }
      const zt::BertNormalizer& n = section == "normalizer" ? full : section == "lowercase" ? lower_only : strip_only;
      const std::u32string got = n.normalize(one);
      if (got != expected[cp]) report(cp, hexes(got), hexes(expected[cp]));
    }
  };
  std::string line;
  int sections = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("# ")) {
      finish();
      section = line.substr(2);
      ++sections;
      reset();
      continue;
    }
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    REQUIRE(f.size() >= 2);
    const auto first = static_cast<char32_t>(std::stoul(f[0], nullptr, 16));
    std::size_t k = 1;
    char32_t last = first;
    if (f[1].size() > 1 || std::string("-_c+>wp").find(f[1][0]) == std::string::npos)
      last = static_cast<char32_t>(std::stoul(f[k++], nullptr, 16));
    const std::string kind = f[k++];
    for (char32_t cp = first; cp <= last; ++cp) {
      if (kind == "-") expected[cp].clear();
      if (kind == "_") expected[cp] = U" ";
      if (kind == "c") expected[cp] = U" " + std::u32string(1, cp) + U" ";
      if (kind == "+") {
        const long d = f[k][0] == '-' ? -std::stol(f[k].substr(1), nullptr, 16) : std::stol(f[k], nullptr, 16);
        expected[cp] = std::u32string(1, static_cast<char32_t>(static_cast<long>(cp) + d));
      }
      if (kind == ">") {
        expected[cp].clear();
        for (std::size_t j = k; j < f.size(); ++j)
          expected[cp].push_back(static_cast<char32_t>(std::stoul(f[j], nullptr, 16)));
      }
      if (kind == "w" || kind == "p") expected_class[cp] = kind[0];
    }
  }
  finish();
  INFO(first_mismatches);
  CHECK(sections == 4);
  CHECK(checked == 4 * (0x110000 - 0x800));
  CHECK(mismatches == 0);
}

TEST_CASE("WordPiece: greedy longest match first, [UNK] rules", "[tokenizers]") {
  const zt::WordPiece wp = small_model();
  auto ids = [&](std::string_view word) {
    std::vector<std::string> tokens;
    for (int id : wp.tokenize(word)) tokens.emplace_back(wp.id_to_token(id));
    return tokens;
  };
  using V = std::vector<std::string>;
  CHECK(ids("unaffable") == V{"un", "##aff", "##able"});
  CHECK(ids("hello") == V{"hello"});
  CHECK(ids("ab") == V{"ab"});                // the longest first piece wins over "a" + "##b"
  CHECK(ids("aab") == V{"a", "##a", "##b"});  // greedy: no backtracking to find "a" + "ab"
  CHECK(ids("abx") == V{"ab", "##x"});
  CHECK(ids("unz") == V{"[UNK]"});  // one unmatched part makes the whole word unknown
  CHECK(ids("b") == V{"[UNK]"});    // "##b" does not start a word
  CHECK(ids("un##aff") == V{"un##aff"});
  CHECK(ids("##") == V{"##"});  // a word may start with the prefix itself
  CHECK(ids("éé") == V{"é", "##é"});
  CHECK(ids(std::string(100, 'x')).size() == 100);
  CHECK(ids(std::string(101, 'x')) == V{"[UNK]"});
  std::string e100;
  for (int i = 0; i < 100; ++i) e100 += "é";
  CHECK(ids(e100).size() == 100);  // 100 characters of 2 bytes: the limit counts characters
  CHECK(ids(e100 + "é") == V{"[UNK]"});
  CHECK(wp.tokenize("").empty());
  CHECK(wp.vocab_size() == 23);
  CHECK(wp.unk_id() == 0);
  CHECK(wp.token_to_id("##aff") == 2);
  CHECK(wp.token_to_id("nope") == -1);
  CHECK_THROWS_AS(wp.id_to_token(23), std::out_of_range);
  CHECK_THROWS_AS(wp.id_to_token(-1), std::out_of_range);
  CHECK_THROWS_AS(wp.tokenize("\xc3"), std::invalid_argument);

  const zt::WordPiece short_words = small_model({.max_input_chars_per_word = 3});
  CHECK(short_words.tokenize("aab").size() == 3);
  CHECK(short_words.tokenize("aaab") == std::vector<int>{0});
  const zt::WordPiece other_prefix({"<unk>", "a", "@@b"}, {.unk_token = "<unk>", .continuing_subword_prefix = "@@"});
  CHECK(other_prefix.tokenize("ab") == std::vector<int>{1, 2});
  CHECK(other_prefix.tokenize("b") == std::vector<int>{0});

  CHECK(error_of<std::invalid_argument>([] {
          zt::WordPiece({"a", "b", "a", "[UNK]"});
        }).find("'a' twice (ids 0 and 2)") != std::string::npos);
  CHECK(error_of<std::invalid_argument>([] { zt::WordPiece({"a"}); }).find("no unk_token '[UNK]'") !=
        std::string::npos);
}

TEST_CASE("read_vocab and from_folder: errors name the file and line", "[tokenizers]") {
  const TempDir dir("vocab");
  auto vocab_error = [&](const std::string& contents) {
    const fs::path p = dir.write("vocab.txt", contents);
    return error_of([&] { zt::read_vocab(p); });
  };
  const std::string file = (dir.path / "vocab.txt").string();
  CHECK(vocab_error("") == "zeroth: " + file + ": is empty: a vocabulary needs one token per line");
  CHECK(vocab_error("\n\n") == "zeroth: " + file + ": is empty: a vocabulary needs one token per line");
  CHECK(vocab_error("[UNK]\na\nb\na\n") == "zeroth: " + file + ":4: repeats the token 'a' of line 2");
  CHECK(vocab_error("[UNK]\nok\nbad\xff\n") == "zeroth: " + file + ":3: is not valid UTF-8 (at byte 4 of the line)");
  CHECK(vocab_error("[UNK]\n\xed\xa0\x80\n") == "zeroth: " + file + ":2: is not valid UTF-8 (at byte 1 of the line)");
  CHECK(vocab_error("[UNK]\n\nb\n") == "zeroth: " + file + ":2: is an empty token");
  CHECK(vocab_error("[UNK]\n \t\nb\n") == "zeroth: " + file + ":2: is an empty token");
  CHECK(error_of([&] { zt::read_vocab(dir.path / "missing.txt"); }).find("missing.txt: cannot open file") !=
        std::string::npos);

  // Accepted: CRLF, a BOM, no final newline, trailing whitespace dropped as HF does.
  const fs::path ok = dir.write("vocab.txt", "\xEF\xBB\xBF[UNK]\r\nfoo \r\nbar\u00a0\nbaz");
  CHECK(zt::read_vocab(ok) == std::vector<std::string>{"[UNK]", "foo", "bar", "baz"});
  CHECK(error_of([&] { zt::WordPiece::from_file(dir.write("vocab.txt", "a\nb\n")); }) ==
        "zeroth: " + file + ": has no '[UNK]' token (the unk_token)");

  const std::string config = R"({"do_lower_case": true, "tokenizer_class": "BertTokenizer"})";
  dir.write("tokenizer_config.json", config);
  for (const std::string missing : {"[UNK]", "[CLS]", "[SEP]", "[PAD]"}) {
    std::string vocab;
    for (const std::string t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"})
      if (t != missing) vocab += t + "\n";
    dir.write("vocab.txt", vocab);
    CHECK(error_of([&] { zt::BertTokenizer::from_folder(dir.path); }).find(file + ": has no '" + missing + "' token") !=
          std::string::npos);
  }
  dir.write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
  const zt::BertTokenizer no_mask = zt::BertTokenizer::from_folder(dir.path);
  CHECK(no_mask.mask_id() == -1);
  CHECK(no_mask.encode("Hello [MASK]").ids == std::vector<int>{2, 4, 1, 1, 1, 3});  // "[", "mask", "]" unknown

  const std::string config_file = (dir.path / "tokenizer_config.json").string();
  auto config_error = [&](const std::string& json) {
    dir.write("tokenizer_config.json", json);
    return error_of([&] { zt::BertTokenizer::from_folder(dir.path); });
  };
  CHECK(config_error(R"({"tokenizer_class": "RobertaTokenizer"})") ==
        "zeroth: " + config_file +
            ": has tokenizer_class 'RobertaTokenizer', which this WordPiece tokenizer does not "
            "implement (it reads BertTokenizer and BertTokenizerFast)");
  CHECK(config_error(R"({"do_lower_case": "yes"})") ==
        "zeroth: " + config_file + ": 'do_lower_case' must be true or false, not \"yes\"");
  CHECK(config_error(R"({"strip_accents": 1})").find("'strip_accents' must be true or false") != std::string::npos);
  CHECK(config_error(R"({"cls_token": 5})").find("'cls_token' must be a string") != std::string::npos);
  CHECK(config_error(R"({"do_basic_tokenize": false})").find("do_basic_tokenize") != std::string::npos);
  CHECK(config_error("{not json").find(config_file + ": is not valid JSON") != std::string::npos);
  CHECK(config_error("[]") == "zeroth: " + config_file + ": is not a JSON object");
  fs::remove(dir.path / "tokenizer_config.json");
  CHECK(error_of([&] { zt::BertTokenizer::from_folder(dir.path); }) == "zeroth: " + config_file + ": cannot open file");

  // Options read: cased, accents kept, special tokens as AddedToken objects.
  dir.write("vocab.txt", "<pad>\n<unk>\n<s>\n</s>\nHéllo\n");
  dir.write("tokenizer_config.json", R"({"do_lower_case": false, "tokenizer_class": "BertTokenizerFast",
      "unk_token": {"__type": "AddedToken", "content": "<unk>"}, "cls_token": "<s>", "sep_token": "</s>",
      "pad_token": "<pad>", "mask_token": null})");
  const zt::BertTokenizer cased = zt::BertTokenizer::from_folder(dir.path);
  CHECK(cased.encode("Héllo héllo</s>").ids == std::vector<int>{2, 4, 1, 3, 3});
  CHECK(cased.pad_id() == 0);
  CHECK(cased.unk_id() == 1);
  CHECK_FALSE(cased.normalizer().lowercase);
  CHECK_FALSE(cased.normalizer().strip_accents.value_or(cased.normalizer().lowercase));
}

TEST_CASE("BertTokenizer: all-MiniLM-L6-v2 specials, encode, pairs, truncation", "[tokenizers]") {
  const zt::BertTokenizer& tok = minilm();
  CHECK(tok.vocab_size() == 30522);
  CHECK(tok.pad_id() == 0);
  CHECK(tok.unk_id() == 100);
  CHECK(tok.cls_id() == 101);
  CHECK(tok.sep_id() == 102);
  CHECK(tok.mask_id() == 103);
  CHECK(tok.token(7592) == "hello");
  CHECK(tok.token_to_id("##ing") == 2075);
  CHECK(tok.token_to_id("not a token") == -1);
  CHECK_THROWS_AS(tok.token(30522), std::out_of_range);

  const zt::Encoding e = tok.encode("Hello, world!");
  CHECK(e.ids == std::vector<int>{101, 7592, 1010, 2088, 999, 102});
  CHECK(e.type_ids == std::vector<int>(6, 0));
  CHECK(tok.tokenize("Hello, world!") == std::vector<int>{7592, 1010, 2088, 999});
  CHECK(tok.encode("").ids == std::vector<int>{101, 102});
  CHECK(tok.encode("Hello, world!", 4).ids == std::vector<int>{101, 7592, 1010, 102});
  CHECK(tok.encode("Hello, world!", 2).ids == std::vector<int>{101, 102});
  CHECK_THROWS_AS(tok.encode("x", 1), std::invalid_argument);

  const zt::Encoding p = tok.encode_pair("a b c", "d e");
  CHECK(p.ids == std::vector<int>{101, 1037, 1038, 1039, 102, 1040, 1041, 102});
  CHECK(p.type_ids == std::vector<int>{0, 0, 0, 0, 0, 1, 1, 1});
  CHECK(tok.encode_pair("a b c d", "e f", 6).ids == std::vector<int>{101, 1037, 1038, 102, 1041, 102});
  CHECK(tok.encode_pair("a", "b c d e f g", 4).ids == std::vector<int>{101, 102, 1038, 102});
  CHECK(tok.encode_pair("a b", "c", 3).ids == std::vector<int>{101, 102, 102});
  CHECK_THROWS_AS(tok.encode_pair("a", "b", 2), std::invalid_argument);

  // Special tokens written in the text are matched as written (not after lowercasing), as HF's added tokens.
  CHECK(tok.tokenize("x[MASK]y [mask]") == std::vector<int>{1060, 103, 1061, 1031, 7308, 1033});

  // Invalid UTF-8: std::invalid_argument with the byte offset, also past a special token.
  const std::vector<std::pair<std::string, int>> invalid = {
      {"ab\x80", 2},   {"\xc3(", 0},        {"ok \xe2\x82", 3}, {"\xf4\x90\x80\x80", 0},
      {"\xc0\xaf", 0}, {"\xed\xa0\x80", 0}, {"[SEP]x\xff", 6},  {"é\xe9", 2}};
  for (const auto& bad : invalid) {
    const std::string what = error_of<std::invalid_argument>([&] { tok.encode(bad.first); });
    CHECK(what == "zeroth: text is not valid UTF-8 (at byte offset " + std::to_string(bad.second) + ")");
  }
  CHECK(tok.encode(std::string("a\0b", 3)).ids == std::vector<int>{101, 11113, 102});  // U+0000 is dropped
}

TEST_CASE("BertTokenizer: HF's ids for the edge cases", "[tokenizers]") {
  const zt::BertTokenizer& tok = minilm();
  std::istringstream in(read_file(fixture_dir() / "edge_cases.jsonl"));
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("truncation")) {  // [n1, n2, max_length, kept1, kept2]: HF's longest_first on a grid
      for (const auto& row : j["truncation"]) {
        const auto r = row.get<std::vector<std::size_t>>();
        std::vector<int> a(r[0], 1), b(r[1], 2);
        zt::BertTokenizer::truncate_longest_first(a, b, r[2] - 3);
        INFO("lengths " << r[0] << " and " << r[1] << ", max_length " << r[2]);
        CHECK(a.size() == r[3]);
        CHECK(b.size() == r[4]);
        ++n;
      }
      continue;
    }
    const auto want = j["ids"].get<std::vector<int>>();
    ++n;
    if (j.contains("a")) {
      const auto a = j["a"].get<std::string>(), b = j["b"].get<std::string>();
      const auto e = tok.encode_pair(a, b, j["max_length"].get<std::size_t>());
      INFO("pair '" << a << "' / '" << b << "' max_length " << j["max_length"]);
      CHECK(show_ids(e.ids) == show_ids(want));
      CHECK(show_ids(e.type_ids) == show_ids(j["type_ids"].get<std::vector<int>>()));
    } else {
      const auto text = j["text"].get<std::string>();
      const std::size_t max_length = j.contains("max_length") ? j["max_length"].get<std::size_t>() : 100000;
      INFO("text '" << text << "' max_length " << max_length);
      CHECK(show_ids(tok.encode(text, max_length).ids) == show_ids(want));
    }
  }
  CHECK(n > 1000);
}

namespace {

std::uint64_t fnv1a64(const std::vector<std::string>& texts) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (const auto& t : texts) {
    for (unsigned char c : t) h = (h ^ c) * 0x100000001B3ull;
    h *= 0x100000001B3ull;  // the '\0' after each text: h ^ 0 == h
  }
  return h;
}

void json_strings(const nlohmann::json& v, std::vector<std::string>& out) {
  if (v.is_string()) out.push_back(v.get<std::string>());
  if (v.is_object() || v.is_array())  // nlohmann::json's objects iterate in sorted key order, as the script
    for (const auto& x : v) json_strings(x, out);
}

std::vector<std::string> lines_of(const std::string& bytes) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t end = bytes.find('\n', pos);
    if (end == std::string::npos) end = bytes.size();
    lines.push_back(bytes.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

// The texts of one source as the script read them (see scripts/gen_wordpiece_fixture.py).
std::vector<std::string> source_texts(const fs::path& path, const std::string& kind) {
  const auto lines = lines_of(read_file(path));
  std::vector<std::string> texts;
  if (kind == "tsv") {
    REQUIRE(!lines.empty());
    std::size_t column = 0;
    for (std::size_t start = 0, c = 0;; ++c) {
      const std::size_t tab = lines[0].find('\t', start);
      if (lines[0].substr(start, tab - start) == "sentence") {
        column = c;
        break;
      }
      REQUIRE(tab != std::string::npos);
      start = tab + 1;
    }
    for (std::size_t i = 1; i < lines.size(); ++i) {
      std::size_t start = 0;
      for (std::size_t c = 0; c < column; ++c) start = lines[i].find('\t', start) + 1;
      texts.push_back(lines[i].substr(start, lines[i].find('\t', start) - start));
    }
  } else if (kind == "label_first") {
    for (const auto& l : lines) texts.push_back(l.substr(l.find(' ') + 1));
  } else if (kind == "jsonl") {
    for (const auto& l : lines) json_strings(nlohmann::json::parse(l), texts);
  } else {
    REQUIRE(kind.starts_with("pairs:"));
    const std::string fields = kind.substr(6, kind.find(':', 6) - 6);
    const std::string a = fields.substr(0, fields.find(',')), b = fields.substr(fields.find(',') + 1);
    for (const auto& l : lines) {
      if (l.empty()) continue;
      const auto j = nlohmann::json::parse(l);
      texts.push_back(j.at(a).get<std::string>());
      texts.push_back(j.at(b).get<std::string>());
    }
  }
  return texts;
}

}  // namespace

TEST_CASE("BertTokenizer: HF's ids for every text of shared/data", "[tokenizers]") {
  const zt::BertTokenizer& tok = minilm();
  const std::string blob = read_file(fixture_dir() / "ids.bin");
  std::size_t at = 0;
  auto next = [&]() -> int {
    if (at + 2 > blob.size()) FAIL("ids.bin ends early");
    const int v = static_cast<unsigned char>(blob[at]) | static_cast<unsigned char>(blob[at + 1]) << 8;
    at += 2;
    return v;
  };
  std::istringstream manifest(read_file(fixture_dir() / "manifest.tsv"));
  std::string line;
  std::getline(manifest, line);  // header
  std::size_t texts = 0, tokens = 0, pairs = 0, pair_tokens = 0, mismatches = 0;
  std::string first_mismatches;
  auto mismatch = [&](const std::string& where, const std::string& text, const std::vector<int>& got,
                      const std::vector<int>& want) {
    if (++mismatches <= 5)
      first_mismatches += where + ": '" + text + "'\n  got " + show_ids(got) + "\n  HF  " + show_ids(want) + "\n";
  };
  while (std::getline(manifest, line)) {
    std::istringstream f(line);
    std::string file, kind, hash;
    std::size_t count = 0, count_tokens = 0;
    REQUIRE(static_cast<bool>(f >> file >> kind >> count >> count_tokens >> hash));
    const auto source = source_texts(shared_dir() / "data" / file, kind);
    INFO(file << " (" << kind << ")");
    REQUIRE(std::stoull(hash, nullptr, 16) == fnv1a64(source));  // the same texts as the fixture was made from
    if (kind.starts_with("pairs:")) {
      const std::size_t max_length = std::stoul(kind.substr(kind.rfind(':') + 1));
      REQUIRE(source.size() == 2 * count);
      for (std::size_t i = 0; i < count; ++i) {
        const int n = next(), first = next();
        std::vector<int> want(static_cast<std::size_t>(n)), want_types(want.size(), 1);
        for (int& id : want) id = next();
        std::fill_n(want_types.begin(), first, 0);
        const zt::Encoding e = tok.encode_pair(source[2 * i], source[2 * i + 1], max_length);
        if (e.ids != want || e.type_ids != want_types)
          mismatch(file + " pair " + std::to_string(i), source[2 * i] + "' / '" + source[2 * i + 1], e.ids, want);
        ++pairs;
        pair_tokens += want.size();
      }
      continue;
    }
    REQUIRE(source.size() == count);
    for (std::size_t i = 0; i < count; ++i) {
      std::vector<int> want(static_cast<std::size_t>(next()));
      for (int& id : want) id = next();
      const std::vector<int> got = tok.tokenize(source[i]);
      if (got != want) mismatch(file + " text " + std::to_string(i), source[i], got, want);
      // Truncation to the model's 128: [CLS], the first 126 tokens, [SEP].
      if (want.size() > 126) {
        const auto e = tok.encode(source[i], 128);
        want.resize(126);
        want.insert(want.begin(), 101);
        want.push_back(102);
        if (e.ids != want) mismatch(file + " text " + std::to_string(i) + " at max_length 128", source[i], e.ids, want);
      }
      ++texts;
      tokens += want.size();
    }
  }
  CHECK(at == blob.size());
  INFO(first_mismatches);
  CHECK(mismatches == 0);
  std::cout << "tokenizer_tests: " << texts << " texts (" << tokens << " tokens) and " << pairs << " pairs ("
            << pair_tokens << " tokens) checked against HF tokenizers, " << mismatches << " mismatches\n";
  CHECK(texts + pairs > 100000);
}

TEST_CASE("BertTokenizer: throughput on SST-2 train", "[tokenizers]") {
  const zt::BertTokenizer& tok = minilm();
  const auto texts = source_texts(shared_dir() / "data" / "sst2" / "train.tsv", "tsv");
  std::size_t tokens = 0, bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();  // CPU time too: wall time is only as good as the machine is idle
  for (const auto& t : texts) {
    tokens += tok.encode(t).size();
    bytes += t.size();
  }
  const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "tokenizer_tests: SST-2 train, " << texts.size() << " texts, " << tokens << " tokens (" << bytes
            << " bytes): " << static_cast<double>(tokens) / cpu / 1e6 << " M tokens/s of CPU time, "
            << static_cast<double>(tokens) / wall / 1e6 << " M tokens/s of wall time\n";
  CHECK(tokens > 150000);
}
