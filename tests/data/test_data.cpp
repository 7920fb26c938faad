// Tests for zeroth/data: the real SST-2 / SuperGLUE / FewGLUE files, texts, malformed inputs, k-shot sampling.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "zeroth/data/load.hpp"
#include "zeroth/data/sampling.hpp"
#include "zeroth/data/text.hpp"
#include "support/temp_file.hpp"

#ifndef ZEROTH_SHARED_DIR
#define ZEROTH_SHARED_DIR "../shared"
#endif

namespace zd = zeroth::data;
namespace fs = std::filesystem;
using zd::Task;

namespace {

using zeroth::test::TempDir;
using zeroth::test::TempFile;
using zeroth::test::error_of;

fs::path data_dir() { return fs::path(ZEROTH_SHARED_DIR) / "data"; }

std::vector<std::size_t> counts(const std::vector<zd::Example>& data, Task task) {
  return zd::class_counts(data, zd::num_classes(task));
}

// Loads `contents` as `task` and returns the error, which must name file:line and contain `problem`.
void check_rejected(Task task, const std::string& name, const std::string& contents, std::size_t line,
                    const std::string& problem) {
  TempFile f(name, contents);
  std::string msg = error_of([&] { zd::load_task(task, f.path); });
  INFO("message: " << msg);
  CHECK(msg.rfind("zeroth: ", 0) == 0);
  CHECK_THAT(msg, Catch::Contains(f.path.string() + ":" + std::to_string(line) + ": "));
  CHECK_THAT(msg, Catch::Contains(problem));
}

}  // namespace

TEST_CASE("data: task names, classes and labels", "[data]") {
  for (Task t : zd::all_tasks) CHECK(zd::task_from_string(zd::task_name(t)) == t);
  CHECK(zd::task_from_string("boolq") == Task::boolq);
  CHECK(zd::num_classes(Task::sst2) == 2);
  CHECK(zd::num_classes(Task::rte) == 2);
  CHECK(zd::num_classes(Task::cb) == 3);
  CHECK(zd::num_classes(Task::boolq) == 2);
  CHECK(zd::num_classes(Task::copa) == 2);
  CHECK(zd::label_names(Task::cb)[2] == "neutral");
  CHECK_THROWS_WITH(zd::task_from_string("mnli"),
                    Catch::Contains("'mnli'") && Catch::Contains("sst2, rte, cb, boolq, copa"));
  CHECK_THROWS_AS(zd::task_from_string("SST2"), std::invalid_argument);
}

TEST_CASE("data: SST-2 files, both layouts", "[data][real]") {
  const fs::path dir = data_dir() / "sst2";
  auto train = zd::load_task(Task::sst2, dir / "train.tsv");
  auto dev = zd::load_task(Task::sst2, dir / "dev.tsv");
  auto test = zd::load_task(Task::sst2, dir / "test.tsv");
  REQUIRE(train.size() == 6920);
  REQUIRE(dev.size() == 872);
  REQUIRE(test.size() == 1821);
  CHECK(counts(train, Task::sst2) == std::vector<std::size_t>{3310, 3610});
  CHECK(counts(dev, Task::sst2) == std::vector<std::size_t>{428, 444});
  CHECK(counts(test, Task::sst2) == std::vector<std::size_t>{912, 909});

  CHECK(train[0].text ==
        "a stirring , funny and finally transporting re-imagining of beauty and the beast and 1930s horror films");
  CHECK(train[0].label == 1);
  CHECK(train[0].line == 2);  // after the header
  CHECK(train.back().line == 6921);
  CHECK(test[0].text == "no movement , no yuks , not much of anything .");
  CHECK(test[0].label == 0);
  CHECK(test[0].line == 1);  // no header
  for (const auto* set : {&train, &dev, &test})
    for (const auto& ex : *set) {
      CHECK(!ex.text.empty());
      CHECK(ex.text.find('\t') == std::string::npos);
      CHECK(ex.text.back() != ' ');
      CHECK(ex.text_b.empty());
      CHECK(ex.choices.empty());
    }

  // sst2-full: same header layout, phrase-level; its test.tsv is GLUE dev (the same 872 sentences as sst2/dev).
  auto full_train = zd::load_task(Task::sst2, data_dir() / "sst2-full" / "train.tsv");
  auto full_dev = zd::load_task(Task::sst2, data_dir() / "sst2-full" / "dev.tsv");
  auto full_test = zd::load_task(Task::sst2, data_dir() / "sst2-full" / "test.tsv");
  CHECK(full_train.size() == 60614);
  CHECK(full_dev.size() == 6735);
  CHECK(full_test.size() == 872);
  CHECK(counts(full_train, Task::sst2) == std::vector<std::size_t>{26786, 33828});
  CHECK(counts(full_dev, Task::sst2) == std::vector<std::size_t>{2994, 3741});
  CHECK(counts(full_test, Task::sst2) == std::vector<std::size_t>{428, 444});
  CHECK(full_train[0].text == "when are bears bears and");  // trailing space of the file trimmed
}

TEST_CASE("data: SuperGLUE RTE and CB files", "[data][real]") {
  const fs::path dir = data_dir() / "superglue";
  auto rte_train = zd::load_task(Task::rte, dir / "RTE" / "train.jsonl");
  auto rte_val = zd::load_task(Task::rte, dir / "RTE" / "val.jsonl");
  auto rte_test = zd::load_task(Task::rte, dir / "RTE" / "test.jsonl");  // no final newline
  CHECK(rte_train.size() == 2490);
  CHECK(rte_val.size() == 277);
  CHECK(rte_test.size() == 3000);
  CHECK(counts(rte_train, Task::rte) == std::vector<std::size_t>{1249, 1241});
  CHECK(counts(rte_val, Task::rte) == std::vector<std::size_t>{146, 131});
  CHECK(std::all_of(rte_test.begin(), rte_test.end(), [](auto& e) { return e.label == zd::unlabelled; }));
  CHECK(rte_test.back().line == 3000);

  auto cb_train = zd::load_task(Task::cb, dir / "CB" / "train.jsonl");
  auto cb_val = zd::load_task(Task::cb, dir / "CB" / "val.jsonl");
  auto cb_test = zd::load_task(Task::cb, dir / "CB" / "test.jsonl");
  CHECK(cb_train.size() == 250);
  CHECK(cb_val.size() == 56);
  CHECK(cb_test.size() == 250);
  CHECK(counts(cb_train, Task::cb) == std::vector<std::size_t>{115, 119, 16});
  CHECK(counts(cb_val, Task::cb) == std::vector<std::size_t>{23, 28, 5});
  CHECK(std::all_of(cb_test.begin(), cb_test.end(), [](auto& e) { return e.label == zd::unlabelled; }));
  for (const auto* set : {&rte_train, &rte_val, &rte_test, &cb_train, &cb_val, &cb_test})
    for (const auto& ex : *set) {
      CHECK(!ex.text.empty());
      CHECK(!ex.text_b.empty());
      CHECK(ex.question.empty());
    }
}

TEST_CASE("data: FewGLUE files", "[data][real]") {
  const fs::path dir = data_dir() / "fewglue";
  auto boolq = zd::load_task(Task::boolq, dir / "BoolQ" / "train.jsonl");
  CHECK(boolq.size() == 32);
  CHECK(counts(boolq, Task::boolq) == std::vector<std::size_t>{14, 18});  // false, true
  CHECK(boolq[0].question == "is ghost in the shell based on the anime");
  CHECK(boolq[0].text.rfind("Ghost in the Shell -- ", 0) == 0);

  auto cb = zd::load_task(Task::cb, dir / "CB" / "train.jsonl");
  CHECK(cb.size() == 32);
  CHECK(counts(cb, Task::cb) == std::vector<std::size_t>{19, 10, 3});

  auto rte = zd::load_task(Task::rte, dir / "RTE" / "train.jsonl");
  CHECK(rte.size() == 32);
  CHECK(counts(rte, Task::rte) == std::vector<std::size_t>{13, 19});

  auto copa = zd::load_task(Task::copa, dir / "COPA" / "train.jsonl");
  CHECK(copa.size() == 32);
  CHECK(counts(copa, Task::copa) == std::vector<std::size_t>{14, 18});
  CHECK(std::count_if(copa.begin(), copa.end(), [](auto& e) { return e.question == "cause"; }) == 12);
  CHECK(copa[0].text == "The chandelier shattered on the floor.");
  CHECK(copa[0].question == "cause");
  CHECK(copa[0].choices == std::vector<std::string>{"The chandelier dropped from the ceiling.",
                                                    "The chandelier's lights flickered on and off."});
  CHECK(copa[0].label == 0);
  auto copa_unlabeled = zd::load_task(Task::copa, dir / "COPA" / "unlabeled.jsonl");
  CHECK(copa_unlabeled.size() == 400);
  for (const auto& ex : copa_unlabeled) {
    CHECK(ex.label == zd::unlabelled);
    CHECK(ex.choices.size() == 2);
  }
}

TEST_CASE("data: class balance of the real training sets", "[data][real]") {
  // Sanity bounds: the binary sets are near balance, CB's neutral class is its rare one.
  auto share = [](const std::vector<zd::Example>& d, Task t, int c) {
    return double(counts(d, t)[static_cast<std::size_t>(c)]) / double(d.size());
  };
  auto sst2 = zd::load_task(Task::sst2, data_dir() / "sst2" / "train.tsv");
  auto rte = zd::load_task(Task::rte, data_dir() / "superglue" / "RTE" / "train.jsonl");
  auto cb = zd::load_task(Task::cb, data_dir() / "superglue" / "CB" / "train.jsonl");
  for (int c = 0; c < 2; ++c) {
    CHECK(share(sst2, Task::sst2, c) > 0.4);
    CHECK(share(sst2, Task::sst2, c) < 0.6);
    CHECK(share(rte, Task::rte, c) > 0.4);
    CHECK(share(rte, Task::rte, c) < 0.6);
  }
  CHECK(share(cb, Task::cb, 2) < 0.1);
  CHECK(share(cb, Task::cb, 0) > 0.4);
}

TEST_CASE("data: CRLF, missing final newline and trailing empty lines are accepted", "[data]") {
  {
    TempFile f("crlf.tsv", "sentence\tlabel\r\ngood film \t1\r\nbad film\t0\r\n\r\n");
    auto d = zd::load_task(Task::sst2, f.path);
    REQUIRE(d.size() == 2);
    CHECK(d[0].text == "good film");
    CHECK(d[0].label == 1);
    CHECK(d[1].text == "bad film");
    CHECK(d[1].line == 3);
  }
  {
    TempFile f("noheader.tsv", "1 a fine film\r\n0 a dull one");
    auto d = zd::load_task(Task::sst2, f.path);
    REQUIRE(d.size() == 2);
    CHECK(d[0].text == "a fine film");
    CHECK(d[1].text == "a dull one");
    CHECK(d[1].label == 0);
  }
  {
    TempFile f("crlf.jsonl", "{\"premise\": \"p\", \"hypothesis\": \"h\", \"label\": \"neutral\"}\r\n\r\n\n");
    auto d = zd::load_task(Task::cb, f.path);
    REQUIRE(d.size() == 1);
    CHECK(d[0].label == 2);
    CHECK(d[0].text_b == "h");
  }
}

TEST_CASE("data: missing files are rejected", "[data][errors]") {
  fs::path missing = fs::temp_directory_path() / "zeroth_data_test_does_not_exist.tsv";
  for (Task t : {Task::sst2, Task::rte}) {
    std::string msg = error_of([&] { zd::load_task(t, missing); });
    CHECK_THAT(msg, Catch::Contains(missing.string()) && Catch::Contains("cannot open file"));
  }
}

TEST_CASE("data: malformed SST-2 rows are rejected with file:line", "[data][errors]") {
  const std::string h = "sentence\tlabel\n";
  check_rejected(Task::sst2, "badlabel.tsv", h + "ok\t1\nfine\t0\nnope\tx\n", 4, "label 'x' is not 0 or 1");
  check_rejected(Task::sst2, "label2.tsv", h + "ok\t2\n", 2, "label '2' is not 0 or 1");
  check_rejected(Task::sst2, "cols3.tsv", h + "ok\t1\na\tb\t1\n", 3, "expected 2 tab-separated columns, found 3");
  check_rejected(Task::sst2, "cols1.tsv", h + "no label here\n", 2, "expected 2 tab-separated columns, found 1");
  check_rejected(Task::sst2, "emptysent.tsv", h + "  \t1\n", 2, "empty sentence");
  check_rejected(Task::sst2, "innerblank.tsv", h + "a\t1\n\nb\t0\n", 3, "empty line");
  check_rejected(Task::sst2, "badheader.tsv", "text\tlabel\na\t1\n", 1, "is not 'sentence<TAB>label'");
  check_rejected(Task::sst2, "crlfbad.tsv", h + "a\t1\r\nb\t1x\r\n", 3, "label '1x' is not 0 or 1");
  check_rejected(Task::sst2, "nh_label.tsv", "1 good\nx bad\n", 2, "label 'x' is not 0 or 1");
  check_rejected(Task::sst2, "nh_nospace.tsv", "1 good\n0\n", 2, "expected 'label sentence'");
  check_rejected(Task::sst2, "nh_empty.tsv", "1 good\n0 \n", 2, "empty sentence");

  TempFile empty("empty.tsv", "");
  CHECK_THAT(error_of([&] { zd::load_task(Task::sst2, empty.path); }),
             Catch::Contains(empty.path.string()) && Catch::Contains("no examples"));
  TempFile header_only("headeronly.tsv", h);
  CHECK_THAT(error_of([&] { zd::load_task(Task::sst2, header_only.path); }), Catch::Contains("no examples"));
}

TEST_CASE("data: malformed jsonl records are rejected with file:line", "[data][errors]") {
  const std::string rte_ok = R"({"premise": "p", "hypothesis": "h", "label": "entailment"})"
                             "\n";
  check_rejected(Task::rte, "badjson.jsonl", rte_ok + "{\"premise\": \"p\",\n", 2, "invalid JSON at column");
  check_rejected(Task::rte, "array.jsonl", rte_ok + "[1, 2]\n", 2, "expected a JSON object, got array");
  // A number past a double's range: nlohmann's out_of_range, not a parse_error (what fuzz_task_spec found).
  check_rejected(Task::rte, "overflow.jsonl", rte_ok + R"({"premise": 1e999})", 2, "number overflow");
  check_rejected(Task::rte, "nopremise.jsonl", rte_ok + R"({"hypothesis": "h", "label": "entailment"})", 2,
                 "missing field 'premise'");
  check_rejected(Task::rte, "numpremise.jsonl", R"({"premise": 3, "hypothesis": "h", "label": "entailment"})", 1,
                 "field 'premise' must be a string, got number");
  check_rejected(Task::rte, "badlabel.jsonl",
                 rte_ok + rte_ok + R"({"premise": "p", "hypothesis": "h", "label": "maybe"})", 3,
                 "label 'maybe' is not one of entailment, not_entailment");
  check_rejected(Task::cb, "cblabel.jsonl", R"({"premise": "p", "hypothesis": "h", "label": "not_entailment"})", 1,
                 "is not one of entailment, contradiction, neutral");
  check_rejected(Task::rte, "mixed.jsonl", rte_ok + R"({"premise": "p", "hypothesis": "h"})", 2,
                 "missing field 'label'");
  check_rejected(Task::rte, "mixed2.jsonl",
                 R"({"premise": "p", "hypothesis": "h"})"
                 "\n" +
                     rte_ok,
                 2, "unexpected field 'label'");
  check_rejected(Task::rte, "innerblank.jsonl", rte_ok + "\r\n" + rte_ok, 2, "empty line");
  check_rejected(Task::boolq, "boolqstr.jsonl", R"({"passage": "p", "question": "q", "label": "true"})", 1,
                 "field 'label' must be a boolean, got string");
  check_rejected(Task::boolq, "boolqq.jsonl", R"({"passage": "p", "question": null, "label": true})", 1,
                 "field 'question' must be a string, got null");
  const std::string copa = R"({"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "label": )";
  check_rejected(Task::copa, "copa2.jsonl", copa + "2}", 1, "label 2 is not 0 or 1");
  check_rejected(Task::copa, "copafloat.jsonl", copa + "0.5}", 1, "field 'label' must be an integer, got number");
  check_rejected(Task::copa, "copanochoice.jsonl",
                 R"({"premise": "p", "choice1": "a", "question": "effect", "label": 1})", 1, "missing field 'choice2'");
  check_rejected(Task::copa, "copaq.jsonl",
                 R"({"premise": "p", "choice1": "a", "choice2": "b", "question": "why", "label": 1})", 1,
                 "question 'why' is not cause or effect");

  TempFile ok("ok.jsonl", rte_ok);
  CHECK_THAT(error_of([&] { zd::read_jsonl(Task::sst2, ok.path); }), Catch::Contains("tsv"));
  TempFile empty("empty.jsonl", "\n");
  CHECK_THAT(error_of([&] { zd::load_task(Task::rte, empty.path); }), Catch::Contains("no examples"));
}

TEST_CASE("data: uniform_below and permutation are fixed by the seed", "[data][sampling]") {
  std::mt19937_64 check;
  check.discard(9999);
  CHECK(check() == 9981545732273789042ull);  // the standard's required 10000th value

  std::mt19937_64 rng(5);
  std::vector<int> hist(6);
  const int draws = 60000;
  for (int i = 0; i < draws; ++i) ++hist[zd::uniform_below(rng, 6)];
  for (int h : hist) CHECK(std::abs(h - draws / 6) < 5 * 92);  // 5 sigma, sigma = sqrt(60000 * 1/6 * 5/6)

  auto p = zd::permutation(1000, 3);
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) REQUIRE(sorted[i] == i);
  CHECK(p == zd::permutation(1000, 3));
  CHECK(p != zd::permutation(1000, 4));
  CHECK(zd::permutation(0, 1).empty());
  // Golden value: any change to the shuffling algorithm changes every k-shot split made with it.
  CHECK(zd::permutation(10, 1) == std::vector<std::size_t>{8, 7, 4, 0, 2, 9, 6, 1, 3, 5});
}

TEST_CASE("data: k-shot sampling per class", "[data][sampling]") {
  auto train = zd::load_task(Task::sst2, data_dir() / "sst2" / "train.tsv");
  const std::size_t k = 16;
  auto a = zd::sample_k_shot(train, zd::num_classes(Task::sst2), k, 42);
  REQUIRE(a.examples.size() == 2 * k);
  REQUIRE(a.indices.size() == 2 * k);
  CHECK(a.k == k);
  CHECK(a.per_class == std::vector<std::size_t>{k, k});
  CHECK(a.complete());
  CHECK(counts(a.examples, Task::sst2) == std::vector<std::size_t>{k, k});
  CHECK(std::set<std::size_t>(a.indices.begin(), a.indices.end()).size() == 2 * k);  // no duplicates
  for (std::size_t i = 0; i < a.indices.size(); ++i) {
    CHECK(a.examples[i].line == train[a.indices[i]].line);
    CHECK(a.examples[i].text == train[a.indices[i]].text);
  }
  // Classes are interleaved, not grouped: the first k are not all one class.
  CHECK(zd::class_counts(zd::take_first(a.examples, k), 2)[0] != k);

  auto again = zd::sample_k_shot(train, 2, k, 42);
  CHECK(again.indices == a.indices);
  auto other = zd::sample_k_shot(train, 2, k, 43);
  CHECK(other.indices != a.indices);
  CHECK(other.per_class == a.per_class);

  // A class with fewer than k examples gives all it has, and says so.
  auto cb = zd::load_task(Task::cb, data_dir() / "fewglue" / "CB" / "train.jsonl");  // 19 / 10 / 3
  auto s = zd::sample_k_shot(cb, zd::num_classes(Task::cb), 8, 1);
  CHECK(s.per_class == std::vector<std::size_t>{8, 8, 3});
  CHECK(!s.complete());
  CHECK(s.examples.size() == 19);
  CHECK(counts(s.examples, Task::cb) == s.per_class);
  CHECK(std::set<std::size_t>(s.indices.begin(), s.indices.end()).size() == 19);

  auto big = zd::sample_k_shot(cb, 3, 100, 1);
  CHECK(big.examples.size() == cb.size());
  CHECK(zd::sample_k_shot(cb, 3, 0, 1).examples.empty());

  auto test = zd::load_task(Task::rte, data_dir() / "superglue" / "RTE" / "test.jsonl");
  CHECK_THROWS_AS(zd::sample_k_shot(test, 2, 4, 1), std::invalid_argument);
  CHECK_THROWS_AS(zd::sample_k_shot(cb, 2, 4, 1), std::invalid_argument);  // label 2 with 2 classes
}

TEST_CASE("data: split and take_first", "[data][sampling]") {
  auto dev = zd::load_task(Task::sst2, data_dir() / "sst2" / "dev.tsv");
  auto first = zd::take_first(dev, 300);
  REQUIRE(first.size() == 300);
  CHECK(first[299].line == dev[299].line);
  CHECK(zd::take_first(dev, 10000).size() == dev.size());

  auto [a, b] = zd::split(dev, 500, 9);
  CHECK(a.size() == 500);
  CHECK(b.size() == dev.size() - 500);
  std::set<std::size_t> lines;
  for (const auto& e : a) lines.insert(e.line);
  for (const auto& e : b) lines.insert(e.line);
  CHECK(lines.size() == dev.size());  // disjoint and covering
  auto again = zd::split(dev, 500, 9);
  CHECK(std::equal(a.begin(), a.end(), again.first.begin(), [](auto& x, auto& y) { return x.line == y.line; }));
  CHECK_THROWS_AS(zd::split(dev, dev.size() + 1, 9), std::invalid_argument);
}

TEST_CASE("data: texts from SST-2's sentences or from lines, and bad text files rejected", "[data][text]") {
  const auto sst2 = zd::read_texts(data_dir() / "sst2" / "train.tsv");
  const auto examples = zd::load_task(Task::sst2, data_dir() / "sst2" / "train.tsv");
  REQUIRE(sst2.size() == examples.size());
  CHECK(sst2.front() == examples.front().text);
  CHECK(sst2.back() == examples.back().text);

  TempFile lines("texts.txt", "first text\r\n\n  second, trimmed  \ncaf\xC3\xA9 \xE2\x82\xAC\n\n");
  CHECK(zd::read_texts(lines.path) == std::vector<std::string>{"first text", "second, trimmed", "caf\xC3\xA9 \xE2\x82\xAC"});

  const auto sample = zd::sample_texts(sst2, 10, 3);
  CHECK(sample.size() == 10);
  CHECK(sample == zd::sample_texts(sst2, 10, 3));
  CHECK(sample != zd::sample_texts(sst2, 10, 4));
  CHECK(std::set<std::string>(sample.begin(), sample.end()).size() == 10);
  CHECK(zd::sample_texts(sample, 100, 0).size() == 10);

  for (const auto& [name, contents, line] : std::vector<std::tuple<std::string, std::string, int>>{
           {"bad_utf8.txt", "fine\nbad \xC3\x28 byte\n", 2},
           {"overlong.txt", "\xC0\xAF\n", 1},
           {"nul.txt", std::string("ok\nok\nnul\0byte\n", 15), 3}}) {
    TempFile f(name, contents);
    const std::string msg = error_of([&] { zd::read_texts(f.path); });
    INFO(msg);
    CHECK_THAT(msg, Catch::Contains(f.path.string() + ":" + std::to_string(line) + ": not UTF-8"));
  }
  TempFile empty("empty.txt", "\n  \n");
  CHECK_THAT(error_of([&] { zd::read_texts(empty.path); }), Catch::Contains("no texts"));
  CHECK_THAT(error_of([&] { zd::read_texts(data_dir() / "missing.txt"); }), Catch::Contains("cannot open"));
  TempFile bad_tsv("bad.tsv", "sentence\tlabel\ngood\t1\nbad\t7\n");
  CHECK_THAT(error_of([&] { zd::read_texts(bad_tsv.path); }), Catch::Contains(bad_tsv.path.string() + ":3: "));
}
