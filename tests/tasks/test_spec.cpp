// Tests for zeroth/tasks: TaskSpec formats, templates and errors, spec JSON, the presets against make_prompt on the
// real data, Item sampling and the accuracy report.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "zeroth/backends/llama2c/checkpoint.hpp"
#include "zeroth/backends/llama2c/prompt_classifier.hpp"
#include "zeroth/data/load.hpp"
#include "zeroth/data/sampling.hpp"
#include "zeroth/tasks/presets.hpp"
#include "zeroth/tasks/prompts.hpp"
#include "zeroth/tasks/report.hpp"
#include "zeroth/tasks/sampling.hpp"
#include "zeroth/tasks/spec.hpp"
#include "support/temp_file.hpp"

#ifndef ZEROTH_SHARED_DIR
#define ZEROTH_SHARED_DIR "../shared"
#endif

namespace zd = zeroth::data;
namespace zt = zeroth::tasks;
namespace fs = std::filesystem;
using zt::Format;
using zt::ModelKind;
using zt::TaskSpec;

namespace {

using zeroth::test::TempDir;
using zeroth::test::TempFile;
using zeroth::test::error_of;

fs::path data_dir() { return fs::path(ZEROTH_SHARED_DIR) / "data"; }

// Loads `contents` with `spec`; the error must name file:line and contain each of `parts`.
void check_rejected(const TaskSpec& spec, const std::string& name, const std::string& contents, std::size_t line,
                    const std::vector<std::string>& parts, bool require_labels = true) {
  TempFile f(name, contents);
  const std::string msg = error_of([&] { zt::load(spec, f.path, require_labels); });
  INFO("message: " << msg);
  CHECK(msg.rfind("zeroth: ", 0) == 0);
  CHECK_THAT(msg, Catch::Contains(f.path.string() + (line ? ":" + std::to_string(line) : "") + ": "));
  for (const auto& p : parts) CHECK_THAT(msg, Catch::Contains(p));
}

// The problem is_valid reports for `spec` ("" when valid).
std::string invalid(const TaskSpec& spec) {
  std::string e;
  return spec.is_valid(&e) ? "" : e;
}

std::vector<int> labels_of(const std::vector<zt::Item>& items) {
  std::vector<int> out;
  for (const auto& it : items) out.push_back(it.label);
  return out;
}

const TaskSpec kTsv{.name = "t",
                    .format = Format::tsv,
                    .labels = {"0", "1"},
                    .template_ = "{sentence} It was",
                    .verbalizers = {" bad", " good"}};

}  // namespace

TEST_CASE("tasks: tsv with a header, columns in any order, values trimmed", "[tasks]") {
  TempFile f("a.tsv", "id\tlabel\tsentence\r\n7\t1\t a fine film \r\n8\t0\tdull\n\n");
  const auto items = zt::load(kTsv, f.path);
  REQUIRE(items.size() == 2);
  CHECK(items[0].text == "a fine film It was");
  CHECK(items[0].candidates == std::vector<std::string>{" bad", " good"});
  CHECK(items[0].label == 1);
  CHECK(items[0].line == 2);
  CHECK(items[0].text_b.empty());
  CHECK(items[1].text == "dull It was");
  CHECK(items[1].label == 0);
  CHECK(items[1].line == 3);

  // Without require_labels, a file without the label column is a test set.
  TempFile test("b.tsv", "sentence\nsome film\n");
  const auto unlabelled = zt::load(kTsv, test.path, false);
  REQUIRE(unlabelled.size() == 1);
  CHECK(unlabelled[0].label == zd::unlabelled);
  CHECK(unlabelled[0].text == "some film It was");
}

TEST_CASE("tasks: csv with RFC 4180 quoting", "[tasks]") {
  const TaskSpec spec{.name = "c",
                      .format = Format::csv,
                      .labels = {"neg", "pos"},
                      .template_ = "{title}: {body}",
                      .template_b = "{title}",
                      .verbalizers = {"no", "yes"}};
  TempFile f("q.csv",
             "label,title,body\r\n"
             "pos,plain,simple text\r\n"
             "neg,\"with, comma\",\"she said \"\"no\"\"\"\r\n"
             "pos,  \"spaced\"  ,\"two\nlines\"\r\n"
             "neg,\"\"\"quoted\"\"\",x\"y\n");
  const auto items = zt::load(spec, f.path);
  REQUIRE(items.size() == 4);
  CHECK(items[0].text == "plain: simple text");
  CHECK(items[0].label == 1);
  CHECK(items[1].text == "with, comma: she said \"no\"");
  CHECK(items[1].text_b == "with, comma");
  CHECK(items[1].label == 0);
  CHECK(items[2].text == "spaced: two\nlines");
  CHECK(items[2].line == 4);
  CHECK(items[3].text == "\"quoted\": x\"y");  // a quote inside an unquoted field is literal
  CHECK(items[3].line == 6);                   // after the record that spans lines 4-5
}

TEST_CASE("tasks: label_text with tabs and with spaces", "[tasks]") {
  const TaskSpec spec{.name = "l",
                      .format = Format::label_text,
                      .labels = {"a", "b"},
                      .template_ = "{text}",
                      .verbalizers = {"A", "B"}};
  TempFile tabs("t.txt", "a\tfirst text, with spaces\nb\t second \n");
  auto items = zt::load(spec, tabs.path);
  REQUIRE(items.size() == 2);
  CHECK(items[0].text == "first text, with spaces");
  CHECK(items[1].text == "second");
  CHECK(labels_of(items) == std::vector<int>{0, 1});

  TempFile spaces("s.txt", "b the first\r\na the\tsecond\n");  // space layout (first line has no tab)
  items = zt::load(spec, spaces.path);
  REQUIRE(items.size() == 2);
  CHECK(items[0].text == "the first");
  CHECK(items[1].text == "the\tsecond");
  CHECK(labels_of(items) == std::vector<int>{1, 0});

  // The one text field takes the name the template gives it.
  TaskSpec named = spec;
  named.template_ = "Review: {review}";
  CHECK(zt::load(named, spaces.path)[0].text == "Review: the first");
}

TEST_CASE("tasks: jsonl with string, boolean and integer values", "[tasks]") {
  TempFile f("v.jsonl", R"({"q": "is it", "flag": true, "n": 3, "s": "x", "extra": [1, 2]})"
                        "\n"
                        R"({"q": "is it not", "flag": false, "n": -12, "s": "y"})"
                        "\n");
  const TaskSpec by_bool{.name = "b",
                         .format = Format::jsonl,
                         .label_field = "flag",
                         .labels = {"false", "true"},
                         .template_ = "{q}? n={n} s={s} flag={flag}",
                         .verbalizers = {" No", " Yes"}};
  auto items = zt::load(by_bool, f.path);
  REQUIRE(items.size() == 2);
  CHECK(items[0].text == "is it? n=3 s=x flag=true");
  CHECK(items[1].text == "is it not? n=-12 s=y flag=false");
  CHECK(labels_of(items) == std::vector<int>{1, 0});

  TaskSpec by_int = by_bool;
  by_int.label_field = "n";
  by_int.labels = {"3", "-12"};
  CHECK(labels_of(zt::load(by_int, f.path)) == std::vector<int>{0, 1});
  TaskSpec by_string = by_bool;
  by_string.label_field = "s";
  by_string.labels = {"y", "x"};
  CHECK(labels_of(zt::load(by_string, f.path)) == std::vector<int>{1, 0});
  TaskSpec missing_label = by_bool;
  missing_label.label_field = "answer";
  CHECK(labels_of(zt::load(missing_label, f.path, false)) == std::vector<int>{-1, -1});
}

TEST_CASE("tasks: the 5-class label<TAB>sentence file and the 6-class csv users could not load", "[tasks]") {
  TempFile sst5("sst5.tsv",
                "4\ta stirring , funny and finally transporting re-imagining\n"
                "0\tapparently reassembled from the cutting-room floor\n"
                "2\tit 's a film\n"
                "1\tnot great\n"
                "3\tquite good\n"
                "4\twonderful\n");
  TaskSpec spec{.name = "sst5",
                .format = Format::label_text,
                .template_ = "{sentence} It was",
                .verbalizers = {" terrible", " bad", " okay", " good", " great"}};
  CHECK(invalid(spec).empty());  // labels to be inferred
  CHECK_THROWS_WITH(zt::load(spec, sst5.path), Catch::Contains("'labels' is empty") && Catch::Contains("infer_labels"));
  spec.labels = zt::infer_labels(spec, sst5.path);
  CHECK(spec.labels == std::vector<std::string>{"0", "1", "2", "3", "4"});
  const auto items = zt::load(spec, sst5.path);
  REQUIRE(items.size() == 6);
  CHECK(labels_of(items) == std::vector<int>{4, 0, 2, 1, 3, 4});
  CHECK(items[0].text == "a stirring , funny and finally transporting re-imagining It was");
  CHECK(items[0].candidates.size() == 5);
  // tsv_or_label_text takes it for label_text too: its first line has no 'label' column.
  spec.format = Format::tsv_or_label_text;
  CHECK(labels_of(zt::load(spec, sst5.path)) == labels_of(items));

  TempFile trec("trec.csv",
                "label,text\n"
                "0,\"How did serfdom develop in and then leave Russia ?\"\n"
                "1,What films featured the character Popeye Doyle ?\n"
                "2,\"How can I find a list of celebrities' real names, like \"\"Popeye\"\" ?\"\n"
                "3,What fowl grabs the spotlight after the Chinese Year of the Monkey ?\n"
                "4,What is the full form of .com ?\n"
                "5,What contemptible scoundrel stole the cork from my lunch ?\n"
                "10,Who?\n");
  TaskSpec six{.name = "trec",
               .format = Format::csv,
               .labels = {},
               .template_ = "{text}",
               .verbalizers = {"a", "b", "c", "d", "e", "f", "g"}};
  six.labels = zt::infer_labels(six, trec.path);
  CHECK(six.labels == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "10"});  // numeric, not "10" < "2"
  const auto q = zt::load(six, trec.path);
  REQUIRE(q.size() == 7);
  CHECK(labels_of(q) == std::vector<int>{0, 1, 2, 3, 4, 5, 6});
  CHECK(q[2].text == "How can I find a list of celebrities' real names, like \"Popeye\" ?");
  CHECK(q[0].text == "How did serfdom develop in and then leave Russia ?");

  // Non-integer labels sort by bytes.
  TempFile words("w.jsonl", R"({"t": "a", "label": "neutral"})"
                            "\n"
                            R"({"t": "b", "label": "contradiction"})"
                            "\n"
                            R"({"t": "c", "label": "entailment"})"
                            "\n"
                            R"({"t": "d", "label": "neutral"})");
  const TaskSpec w{.name = "w", .format = Format::jsonl, .template_ = "{t}", .verbalizers = {"x", "y", "z"}};
  CHECK(zt::infer_labels(w, words.path) == std::vector<std::string>{"contradiction", "entailment", "neutral"});
}

TEST_CASE("tasks: templates, filters, literal braces and fields", "[tasks]") {
  TempFile f("f.jsonl", R"({"premise": "It rained. ", "question": "effect", "c": "The ground got wet.", "label": 1})");
  const TaskSpec spec{.name = "f",
                      .format = Format::jsonl,
                      .labels = {"0", "1"},
                      .template_ = "{{{premise|strip_period}}} {question|map:cause=because,effect=so} {{x}}",
                      .verbalizers = {" {c|lower_first}", " {c|lower_first|upper_first}"}};
  CHECK(invalid(spec).empty());
  CHECK(spec.fields() == std::vector<std::string>{"premise", "question", "c", "label"});
  CHECK(spec.num_classes() == 2);
  const auto items = zt::load(spec, f.path);
  REQUIRE(items.size() == 1);
  CHECK(items[0].text == "{It rained} so {x}");
  CHECK(items[0].candidates == std::vector<std::string>{" the ground got wet.", " The ground got wet."});
  CHECK(items[0].label == 1);

  check_rejected(spec, "g.jsonl", R"({"premise": "p", "question": "why", "c": "c", "label": 1})", 1,
                 {"field 'question' value 'why' has no entry in filter 'map:cause=because,effect=so' of 'template'"});
}

TEST_CASE("tasks: spec validation names the offending field", "[tasks][errors]") {
  const TaskSpec ok = kTsv;
  CHECK(invalid(ok).empty());
  auto with = [&](auto change) {
    TaskSpec s = ok;
    change(s);
    return invalid(s);
  };
  CHECK_THAT(with([](TaskSpec& s) { s.labels.clear(), s.verbalizers.clear(); }),
             Catch::Contains("'labels' and 'verbalizers' are both empty"));
  CHECK(with([](TaskSpec& s) { s.verbalizers.push_back(" meh"); }) == "'verbalizers' has 3 entries but 'labels' has 2");
  CHECK(with([](TaskSpec& s) { s.labels = {"1", "1"}; }) == "'labels' lists '1' twice");
  CHECK(with([](TaskSpec& s) { s.labels = {"0", ""}; }) == "'labels[1]' is empty");
  CHECK(with([](TaskSpec& s) { s.labels = {"0"}, s.verbalizers = {"x"}; }) ==
        "'labels' has 1 class; a task needs at least 2");
  CHECK_THAT(with([](TaskSpec& s) { s.template_ = "{sentence|lowercase}"; }),
             Catch::StartsWith("'template' uses unknown filter 'lowercase' on field 'sentence'") &&
                 Catch::Contains("strip_period, lower_first, upper_first, map:"));
  CHECK_THAT(with([](TaskSpec& s) { s.verbalizers[1] = "{x|map:a}"; }),
             Catch::StartsWith("'verbalizers[1]' has filter 'map:a' whose entry 'a' has no '='"));
  CHECK(with([](TaskSpec& s) { s.template_ = "{sentence} }"; }) ==
        "'template' has an unmatched '}' at byte 11 (write '}}' for a literal brace)");
  CHECK(with([](TaskSpec& s) { s.template_b = "{sentence"; }) ==
        "'template_b' has an unclosed '{' at byte 0 (write '{{' for a literal brace)");
  CHECK_THAT(with([](TaskSpec& s) { s.template_ = "{a{b}}"; }), Catch::StartsWith("'template' has an unclosed '{'"));
  CHECK_THAT(with([](TaskSpec& s) { s.template_ = "x {} y"; }),
             Catch::StartsWith("'template' has a placeholder without a field name"));
  CHECK(with([](TaskSpec& s) { s.template_ = "no placeholder"; }) ==
        "'template' names no field (write {column} where a value goes)");
  CHECK(with([](TaskSpec& s) { s.template_ = ""; }) == "'template' is empty");
  CHECK(with([](TaskSpec& s) { s.verbalizers[0] = ""; }) == "'verbalizers[0]' is empty");
  CHECK(with([](TaskSpec& s) { s.name = ""; }) == "'name' is empty");
  CHECK(with([](TaskSpec& s) { s.label_field = ""; }) == "'label_field' is empty");
  // A headerless file has one text field: a second one is unknown, named with its template.
  CHECK(with([](TaskSpec& s) { s.format = Format::label_text, s.template_b = "{hypothesis}"; }) ==
        "'template_b' names field 'hypothesis', but a label_text file without a header has one text field besides "
        "the label ('sentence')");
  CHECK(with([](TaskSpec& s) { s.format = Format::label_text, s.template_b = "{sentence|lower_first}"; }).empty());

  TaskSpec bad = ok;
  bad.name = "mine";
  bad.labels = {"0", "1", "2"};
  CHECK_THROWS_WITH(bad.validate(), "zeroth: task 'mine': 'verbalizers' has 2 entries but 'labels' has 3");
  TempFile f("v.tsv", "sentence\tlabel\na\t0\n");
  CHECK_THROWS_AS(zt::load(bad, f.path), std::invalid_argument);
  for (Format fmt : zt::all_formats) CHECK(zt::format_from_string(zt::format_name(fmt)) == fmt);
  CHECK_THROWS_WITH(zt::format_from_string("xml"),
                    Catch::Contains("'xml'") && Catch::Contains("tsv, csv, label_text, jsonl, tsv_or_label_text"));
}

TEST_CASE("tasks: rows that do not fit name file, line, field and value", "[tasks][errors]") {
  const TaskSpec five{.name = "five",
                      .format = Format::tsv,
                      .labels = {"0", "1", "2", "3", "4"},
                      .template_ = "{sentence}",
                      .verbalizers = {"a", "b", "c", "d", "e"}};
  const std::string h = "sentence\tlabel\n";
  check_rejected(five, "data.tsv", h + "ok\t1\nfine\t4\nnope\t7\n", 4,
                 {"field 'label' value '7' is not one of 0, 1, 2, 3, 4"});
  check_rejected(five, "cols.tsv", h + "ok\t1\na\tb\t1\n", 3, {"expected 2 tab-separated columns, found 3"});
  check_rejected(five, "hdr.tsv", "text\tlabel\na\t1\n", 1,
                 {"header has no column 'sentence' named by 'template' (columns: text, label)"});
  check_rejected(five, "nolabel.tsv", "sentence\tscore\na\t1\n", 1,
                 {"header has no column 'label' named by 'label_field' (columns: sentence, score)"});
  check_rejected(five, "twice.tsv", "sentence\tlabel\tsentence\na\t1\tb\n", 1, {"header has column 'sentence' twice"});
  check_rejected(five, "emptyval.tsv", h + "  \t1\n", 2, {"field 'sentence' is empty"});
  check_rejected(five, "emptylabel.tsv", h + "a\t\n", 2, {"field 'label' is empty"});
  check_rejected(five, "blank.tsv", h + "a\t1\n\nb\t0\n", 3, {"empty line"});
  check_rejected(five, "utf8.tsv", h + "ok\t1\nbad \xC3\x28 byte\t0\n", 3,
                 {"field 'sentence' is not UTF-8: byte 0xc3 at offset 4 of its value (after 'bad ')"});
  check_rejected(five, "nul.tsv", h + std::string("nul\0byte\t0\n", 11), 2,
                 {"field 'sentence' has a NUL byte at offset 3 of its value (after 'nul')"});
  check_rejected(five, "empty.tsv", "", 0, {"no examples (empty file)"});
  check_rejected(five, "headeronly.tsv", h, 0, {"no examples (header only)"});

  TaskSpec csv = five;
  csv.format = Format::csv;
  const std::string ch = "sentence,label\n";
  check_rejected(csv, "cols.csv", ch + "a,1\n\"b,c\",1,2\n", 3, {"expected 2 comma-separated columns, found 3"});
  check_rejected(csv, "open.csv", ch + "a,1\n\"never closed,1\nb,2\n", 3, {"quoted field is not closed"});
  check_rejected(csv, "after.csv", ch + "\"a\"b,1\n", 2, {"unexpected 'b' after a closing quote"});
  check_rejected(csv, "label.csv", ch + "\"multi\nline\",9\n", 2, {"field 'label' value '9' is not one of 0, 1, 2"});
  check_rejected(csv, "blank.csv", ch + "a,1\n\nb,2\n", 3, {"empty line"});
  check_rejected(csv, "empty.csv", "\n\n", 0, {"no examples (empty file)"});
  check_rejected(csv, "header.csv", "text,label\n", 1, {"header has no column 'sentence'", "(columns: text, label)"});

  TaskSpec lt = five;
  lt.format = Format::label_text;
  check_rejected(lt, "cols.txt", "1\ta\n2\tb\tc\n", 2, {"expected 2 tab-separated columns (label, text), found 3"});
  check_rejected(lt, "tabs.txt", "1\ta\n2 b\n", 2, {"expected 2 tab-separated columns (label, text), found 1"});
  check_rejected(lt, "space.txt", "1 a\n2\n", 2, {"expected 'label text', found '2'"});
  check_rejected(lt, "label.txt", "1 a\nx b\n", 2, {"field 'label' value 'x' is not one of 0, 1, 2, 3, 4"});
  check_rejected(lt, "empty.txt", "1 a\n3  \n", 2, {"field 'sentence' is empty"});
  check_rejected(lt, "utf8.txt", "1 caf\xC3\xA9\n2 \xED\xA0\x80 surrogate\n", 2,
                 {"field 'sentence' is not UTF-8: byte 0xed at offset 0 of its value"});

  const TaskSpec js{.name = "js",
                    .format = Format::jsonl,
                    .labels = {"entailment", "not_entailment"},
                    .template_ = "{premise} {hypothesis}",
                    .verbalizers = {"y", "n"}};
  const std::string ok = R"({"premise": "p", "hypothesis": "h", "label": "entailment"})"
                         "\n";
  check_rejected(js, "miss.jsonl", ok + R"({"hypothesis": "h", "label": "entailment"})", 2,
                 {"missing field 'premise'"});
  check_rejected(js, "type.jsonl", R"({"premise": 1.5, "hypothesis": "h", "label": "entailment"})", 1,
                 {"field 'premise' must be a string, boolean or integer, got number"});
  check_rejected(js, "null.jsonl", R"({"premise": null, "hypothesis": "h", "label": "entailment"})", 1,
                 {"field 'premise' must be a string, boolean or integer, got null"});
  check_rejected(js, "lab.jsonl", ok + ok + R"({"premise": "p", "hypothesis": "h", "label": "maybe"})", 3,
                 {"field 'label' value 'maybe' is not one of entailment, not_entailment"});
  check_rejected(js, "nolab.jsonl", ok + R"({"premise": "p", "hypothesis": "h"})", 2, {"missing field 'label'"});
  check_rejected(js, "json.jsonl", ok + "{\"premise\": \"p\",\n", 2, {"invalid JSON at column"});
  check_rejected(js, "array.jsonl", "[1]\n", 1, {"expected a JSON object, got array"});
  check_rejected(js, "nul.jsonl", R"({"premise": "a\u0000b", "hypothesis": "h", "label": "entailment"})", 1,
                 {"field 'premise' has a NUL byte at offset 1"});
  check_rejected(js, "blank.jsonl", ok + "  \n" + ok, 2, {"empty line"});
  check_rejected(js, "empty.jsonl", "\n", 0, {"no examples (empty file)"});
  // Unlabelled rows are fine without require_labels, but a label that is there must be valid.
  check_rejected(js, "lab2.jsonl", R"({"premise": "p", "hypothesis": "h", "label": "maybe"})", 1,
                 {"value 'maybe' is not one of"}, false);

  const std::string missing = (data_dir() / "nope.tsv").string();
  CHECK_THAT(error_of([&] { zt::load(five, missing); }), Catch::Contains(missing) && Catch::Contains("cannot open"));
  CHECK_THAT(error_of([&] { zt::infer_labels(five, missing); }), Catch::Contains("cannot open"));
}

TEST_CASE("tasks: spec JSON round trip, spec files and their errors", "[tasks][json]") {
  for (auto name : zt::preset_names())
    for (auto kind : {ModelKind::causal_lm, ModelKind::encoder}) {
      const TaskSpec s = zt::preset(name, kind);
      const auto j = zt::spec_to_json(s);
      CHECK(zt::spec_from_json(j, "preset") == s);
      CHECK(zt::spec_from_json(nlohmann::json::parse(j.dump()), "preset") == s);
    }

  TempFile f("sst5.json", R"(// five classes, labels as numbers
{
  "name": "sst5", "format": "label_text", "labels": [0, 1, 2, 3, 4],
  "template": "{sentence} It was", /* continuations: */
  "verbalizers": [" terrible", " bad", " okay", " good", " great"]
})");
  const TaskSpec s = zt::load_spec_file(f.path);
  {  // a number past a double's range is a JSON error naming the file (found by tests/fuzz/fuzz_task_spec)
    TempFile big("overflow.json", R"({"name": 1e999})");
    const std::string e = error_of([&] { (void)zt::load_spec_file(big.path); });
    CHECK_THAT(e, Catch::Contains(big.path.string()) && Catch::Contains("number overflow"));
  }
  CHECK(s.name == "sst5");
  CHECK(s.format == Format::label_text);
  CHECK(s.labels == std::vector<std::string>{"0", "1", "2", "3", "4"});
  CHECK(s.label_field == "label");
  CHECK(s.template_b.empty());
  CHECK(s.verbalizers.size() == 5);
  const auto bools = zt::spec_from_json(
      nlohmann::json::parse(R"({"name": "b", "format": "jsonl", "labels": [false, true], "template": "{q}",
                                "verbalizers": ["No", "Yes"], "label_field": "answer"})"),
      "b");
  CHECK(bools.labels == std::vector<std::string>{"false", "true"});
  CHECK(bools.label_field == "answer");

  const std::string base = R"("name": "x", "format": "tsv", "template": "{t}", "labels": ["a", "b"])";
  auto err = [&](const std::string& body) {
    return error_of<std::invalid_argument>([&] { zt::spec_from_json(nlohmann::json::parse(body), "task.json"); });
  };
  CHECK(err("{" + base + R"(, "verbalisers": ["x", "y"]})") ==
        "zeroth: task.json: unknown key 'verbalisers' (keys: name, format, label_field, labels, template, template_b, "
        "verbalizers)");
  CHECK(err(R"({"name": "x", "format": "tsv", "labels": ["a", "b"]})") == "zeroth: task.json: missing key 'template'");
  CHECK(err("{" + base + R"(, "template_b": 3})") == "zeroth: task.json: 'template_b' must be a string, got number");
  CHECK(err(R"({"name": "x", "format": "tsv", "template": "{t}", "labels": "a,b"})") ==
        "zeroth: task.json: 'labels' must be an array of strings, got string");
  CHECK(err(R"({"name": "x", "format": "tsv", "template": "{t}", "labels": ["a", null]})") ==
        "zeroth: task.json: 'labels[1]' must be a string, boolean or integer, got null");
  CHECK(err("{" + base + R"(, "verbalizers": ["x", 1]})") ==
        "zeroth: task.json: 'verbalizers[1]' must be a string, got number");
  CHECK_THAT(err(R"({"name": "x", "format": "xml", "template": "{t}", "labels": ["a", "b"]})"),
             Catch::StartsWith("zeroth: task.json: 'format' 'xml' is not one of tsv, csv, label_text"));
  CHECK(err("{" + base + R"(, "verbalizers": ["x"]})") ==
        "zeroth: task.json: 'verbalizers' has 1 entries but 'labels' has 2");
  CHECK(err("[1]") == "zeroth: task.json: a task spec must be a JSON object, got array");

  TempFile broken("broken.json", "{\"name\": \"x\",\n  \"format\": }");
  CHECK_THAT(error_of([&] { zt::load_spec_file(broken.path); }),
             Catch::Contains(broken.path.string() + ": invalid JSON at line 2, column"));
  CHECK_THAT(error_of([&] { zt::load_spec_file(data_dir() / "none.json"); }), Catch::Contains("cannot open"));
}

TEST_CASE("tasks: causal-LM presets render make_prompt's prompts on every real example", "[tasks][real]") {
  struct Case {
    zd::Task task;
    fs::path file;
    bool labelled;
  };
  const fs::path sg = data_dir() / "superglue", fg = data_dir() / "fewglue";
  const std::vector<Case> cases{
      {zd::Task::sst2, data_dir() / "sst2/train.tsv", true}, {zd::Task::sst2, data_dir() / "sst2/dev.tsv", true},
      {zd::Task::sst2, data_dir() / "sst2/test.tsv", true},  {zd::Task::sst2, data_dir() / "sst2-full/dev.tsv", true},
      {zd::Task::rte, sg / "RTE/train.jsonl", true},         {zd::Task::rte, sg / "RTE/val.jsonl", true},
      {zd::Task::rte, sg / "RTE/test.jsonl", false},         {zd::Task::rte, fg / "RTE/train.jsonl", true},
      {zd::Task::cb, sg / "CB/train.jsonl", true},           {zd::Task::cb, sg / "CB/val.jsonl", true},
      {zd::Task::cb, sg / "CB/test.jsonl", false},           {zd::Task::cb, fg / "CB/train.jsonl", true},
      {zd::Task::boolq, fg / "BoolQ/train.jsonl", true},     {zd::Task::copa, fg / "COPA/train.jsonl", true},
      {zd::Task::copa, fg / "COPA/unlabeled.jsonl", false},
  };
  std::size_t total = 0;
  for (const auto& c : cases) {
    INFO(c.file.string());
    const auto examples = zd::load_task(c.task, c.file);
    const auto items = zt::load(zt::preset(zd::task_name(c.task), ModelKind::causal_lm), c.file, c.labelled);
    REQUIRE(items.size() == examples.size());
    std::size_t mismatches = 0, first = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto p = zt::make_prompt(c.task, examples[i]);
      const bool same = items[i].text == p.context && items[i].candidates == p.candidates &&
                        items[i].label == examples[i].label && items[i].line == examples[i].line &&
                        items[i].text_b.empty();
      if (!same && mismatches++ == 0) first = i;
    }
    INFO("first mismatch at " << first << ": '" << items[first].text << "' vs '"
                              << zt::make_prompt(c.task, examples[first]).context << "'");
    CHECK(mismatches == 0);
    total += items.size();
  }
  CHECK(total == 6920 + 872 + 1821 + 6735 + 2490 + 277 + 3000 + 32 + 250 + 56 + 250 + 32 + 32 + 32 + 400);
}

TEST_CASE("tasks: encoder presets, names and default files", "[tasks][real]") {
  std::vector<std::string_view> names;
  for (auto t : zd::all_tasks) names.push_back(zd::task_name(t));
  CHECK(zt::preset_names() == names);
  for (auto name : zt::preset_names()) {
    const auto files = zt::preset_files(name, data_dir());
    CHECK(fs::exists(files.train));
    if (!files.eval.empty()) CHECK(fs::exists(files.eval));
    for (auto kind : {ModelKind::causal_lm, ModelKind::encoder}) {
      const auto spec = zt::preset(name, kind);
      CHECK(invalid(spec).empty());
      CHECK(spec.name == name);
      CHECK(zt::load(spec, files.train).size() == zd::load_task(zd::task_from_string(name), files.train).size());
    }
  }
  CHECK(zt::preset_files("rte").train == fs::path("../shared/data/superglue/RTE/train.jsonl"));
  CHECK(zt::preset_files("copa").eval.empty());
  CHECK_THROWS_WITH(zt::preset("mnli", ModelKind::encoder),
                    Catch::Contains("'mnli'") && Catch::Contains("sst2, rte, cb, boolq, copa"));
  CHECK_THROWS_AS(zt::preset_files("wsc"), std::invalid_argument);

  const auto sst2 = zt::load(zt::preset("sst2", ModelKind::encoder), data_dir() / "sst2/test.tsv");
  CHECK(sst2[0].text == "no movement , no yuks , not much of anything .");
  CHECK(sst2[0].candidates == std::vector<std::string>{"It was terrible.", "It was great."});
  const auto rte = zt::load(zt::preset("rte", ModelKind::encoder), data_dir() / "superglue/RTE/train.jsonl");
  CHECK(rte[0].text == "No Weapons of Mass Destruction Found in Iraq Yet.");
  CHECK(rte[0].text_b == "Weapons of Mass Destruction Found in Iraq.");
  CHECK(rte[0].label == 1);
  const auto boolq = zt::load(zt::preset("boolq", ModelKind::encoder), data_dir() / "fewglue/BoolQ/train.jsonl");
  CHECK(boolq[0].text_b == "is ghost in the shell based on the anime?");
  const auto copa = zt::load(zt::preset("copa", ModelKind::encoder), data_dir() / "fewglue/COPA/train.jsonl");
  CHECK(copa[0].text == "The chandelier shattered on the floor.");
  CHECK(copa[0].candidates == std::vector<std::string>{"The chandelier dropped from the ceiling.",
                                                       "The chandelier's lights flickered on and off."});
  const auto cb = zt::load(zt::preset("cb", ModelKind::encoder), data_dir() / "superglue/CB/val.jsonl");
  CHECK(zt::class_counts(cb, 3) == std::vector<std::size_t>{23, 28, 5});
}

TEST_CASE("tasks: k-shot samples choose what data::sample_k_shot chooses", "[tasks][sampling]") {
  for (const auto& [task, file] :
       std::vector<std::pair<zd::Task, fs::path>>{{zd::Task::sst2, data_dir() / "sst2/train.tsv"},
                                                  {zd::Task::cb, data_dir() / "fewglue/CB/train.jsonl"},
                                                  {zd::Task::rte, data_dir() / "superglue/RTE/train.jsonl"}}) {
    const auto examples = zd::load_task(task, file);
    const auto items = zt::load(zt::preset(zd::task_name(task), ModelKind::causal_lm), file);
    for (std::size_t k : {0, 1, 8, 16, 100})
      for (std::uint64_t seed : {1, 42}) {
        const auto a = zd::sample_k_shot(examples, zd::num_classes(task), k, seed);
        const auto b = zt::sample_k_shot(items, zd::num_classes(task), k, seed);
        CHECK(b.indices == a.indices);
        CHECK(b.per_class == a.per_class);
        CHECK(b.k == k);
        CHECK(b.complete() == a.complete());
        REQUIRE(b.items.size() == a.examples.size());
        for (std::size_t i = 0; i < b.items.size(); ++i) CHECK(b.items[i].line == a.examples[i].line);
      }
  }
  const auto test = zt::load(zt::preset("rte", ModelKind::causal_lm), data_dir() / "superglue/RTE/test.jsonl", false);
  CHECK_THROWS_AS(zt::sample_k_shot(test, 2, 4, 1), std::invalid_argument);
  CHECK_THROWS_AS(zt::class_counts(test, 2), std::invalid_argument);
}

TEST_CASE("tasks: stratified split keeps class proportions and is fixed by the seed", "[tasks][sampling]") {
  const auto train = zt::load(zt::preset("sst2", ModelKind::causal_lm), data_dir() / "sst2/train.tsv");  // 3310/3610
  const auto [a, held] = zt::stratified_split(train, 0.1, 7);
  CHECK(zt::class_counts(held, 2) == std::vector<std::size_t>{331, 361});
  CHECK(zt::class_counts(a, 2) == std::vector<std::size_t>{2979, 3249});
  std::set<std::size_t> lines;
  for (const auto* part : {&a, &held})
    for (std::size_t i = 0; i < part->size(); ++i) {
      lines.insert((*part)[i].line);
      if (i) CHECK((*part)[i - 1].line < (*part)[i].line);  // source order
    }
  CHECK(lines.size() == train.size());  // disjoint and covering
  const auto again = zt::stratified_split(train, 0.1, 7);
  auto same = [](const std::vector<zt::Item>& x, const std::vector<zt::Item>& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](auto& p, auto& q) { return p.line == q.line; });
  };
  CHECK(same(again.heldout, held));
  CHECK(same(again.train, a));
  CHECK(!same(zt::stratified_split(train, 0.1, 8).heldout, held));

  const auto cb = zt::load(zt::preset("cb", ModelKind::causal_lm), data_dir() / "superglue/CB/train.jsonl");
  const auto s = zt::stratified_split(cb, 0.25, 1);  // 115 / 119 / 16 -> round(28.75, 29.75, 4)
  CHECK(zt::class_counts(s.heldout, 3) == std::vector<std::size_t>{29, 30, 4});
  CHECK(zt::stratified_split(cb, 0.0, 1).heldout.empty());
  CHECK(zt::stratified_split(cb, 1.0, 1).train.empty());
  CHECK_THROWS_AS(zt::stratified_split(cb, 1.5, 1), std::invalid_argument);
  const auto test = zt::load(zt::preset("cb", ModelKind::causal_lm), data_dir() / "superglue/CB/test.jsonl", false);
  CHECK_THROWS_AS(zt::stratified_split(test, 0.5, 1), std::invalid_argument);
}

TEST_CASE("tasks: a folder given as a data file is named as a folder, not as an empty file", "[tasks][errors]") {
  const TempDir dir("data_folder");
  const TaskSpec sst2 = zt::preset("sst2", ModelKind::causal_lm);
  // Before: "zeroth: <dir>: no examples (empty file)".
  CHECK(error_of([&] { zt::load(sst2, dir.path); }) == "zeroth: " + dir.path.string() + ": is a folder, not a file");
}

TEST_CASE("tasks: equal scores for every class (a collapsed classifier) are recognised", "[tasks][report]") {
  const std::vector<int> same{1, 1, 1, 1}, mixed{1, 0, 1, 1};
  const double ln2 = std::log(2.0), ln3 = std::log(3.0);
  CHECK_THAT(zt::equal_scores_warning(same, ln2, 2),
             Catch::Contains("within 0.002 of ln 2 = 0.693147") &&
                 Catch::Contains("(predictions: 0 of class 0, 4 of class 1)") && Catch::Contains("same score"));
  // Nearly equal scores still split predictions by a hair (a collapsed BERT encoder): the loss is what tells.
  CHECK_THAT(zt::equal_scores_warning(mixed, ln2 + 1e-3, 2), Catch::Contains("1 of class 0, 3 of class 1"));
  CHECK_FALSE(zt::equal_scores_warning(same, ln3 - 5e-4, 3).empty());
  CHECK(zt::equal_scores_warning(same, ln2 - 0.01, 2).empty());  // one class, but not equal scores: a biased model
  CHECK(zt::equal_scores_warning(same, ln2 + 1e-3, 2, 1e-4).empty());
  CHECK(zt::equal_scores_warning(same, std::nan(""), 2).empty());
  CHECK(zt::equal_scores_warning(same, 0.0, 1).empty());
}

TEST_CASE("tasks: majority baseline and accuracy report", "[tasks][report]") {
  const std::vector<std::size_t> counts{428, 444};
  const auto b = zt::majority_baseline(counts);
  CHECK(b.label == 1);
  CHECK(b.accuracy == Approx(444.0 / 872));
  CHECK(zt::majority_baseline(std::vector<std::size_t>{3, 3, 1}).label == 0);  // lowest index among ties
  CHECK(zt::majority_baseline(std::vector<std::size_t>{0, 0}).accuracy == 0);
  CHECK_THROWS_AS(zt::majority_baseline(std::vector<std::size_t>{}), std::invalid_argument);

  // 428 negatives (341 right), 444 positives (367 right).
  std::vector<int> labels, predictions;
  for (int i = 0; i < 428; ++i) labels.push_back(0), predictions.push_back(i < 341 ? 0 : 1);
  for (int i = 0; i < 444; ++i) labels.push_back(1), predictions.push_back(i < 367 ? 1 : 0);
  const auto r = zt::accuracy_report(labels, predictions, 2);
  CHECK(r.brief() == "accuracy 81.2% (708/872; per class: 0: 341/428, 1: 367/444; majority baseline 50.9%)");
  CHECK(r.classes[0] == zt::ClassCounts{428, 341 + 77, 341});
  CHECK(r.classes[1] == zt::ClassCounts{444, 367 + 87, 367});
  const auto j = r.to_json();
  CHECK(j["accuracy"].get<double>() == Approx(708.0 / 872));
  CHECK(j["correct"] == 708);
  CHECK(j["total"] == 872);
  CHECK(j["majority_class"] == "1");
  CHECK(j["majority_baseline"].get<double>() == Approx(444.0 / 872));
  CHECK(j["per_class"][0] == nlohmann::json{{"label", "0"}, {"support", 428}, {"predicted", 418}, {"correct", 341}});

  const auto named = zt::accuracy_report(std::vector<int>{0, 1, 2, 2}, std::vector<int>{0, 2, 2, 2}, 3,
                                         {"entailment", "contradiction", "neutral"});
  CHECK(named.brief() ==
        "accuracy 75.0% (3/4; per class: entailment: 1/1, contradiction: 0/1, neutral: 2/2; "
        "majority baseline 50.0%)");
  CHECK(named.to_json()["majority_class"] == "neutral");
  CHECK_THROWS_AS(zt::accuracy_report(std::vector<int>{0}, std::vector<int>{}, 2), std::invalid_argument);
  CHECK_THROWS_AS(zt::accuracy_report(std::vector<int>{-1}, std::vector<int>{0}, 2), std::invalid_argument);
  CHECK_THROWS_AS(zt::accuracy_report(std::vector<int>{0}, std::vector<int>{2}, 2), std::invalid_argument);
  CHECK_THROWS_AS(zt::accuracy_report(std::vector<int>{0}, std::vector<int>{0}, 2, {"a"}), std::invalid_argument);
}

TEST_CASE("tasks: PromptClassifier from preset items scores as from examples, bit for bit", "[tasks][llama2c]") {
  namespace l2 = zeroth::llama2c;
  const std::string models = std::string(ZEROTH_SHARED_DIR) + "/models/stories260K/";
  l2::Model model(l2::load_checkpoint(models + "stories260K.bin"));
  const auto tok = l2::Tokenizer::load(models + "tok512.bin", model.config().vocab_size);
  for (const auto& [task, file] :
       std::vector<std::pair<zd::Task, fs::path>>{{zd::Task::copa, data_dir() / "fewglue/COPA/train.jsonl"},
                                                  {zd::Task::cb, data_dir() / "fewglue/CB/train.jsonl"}}) {
    auto examples = zd::take_first(zd::load_task(task, file), 6);
    auto items = zt::load(zt::preset(zd::task_name(task), ModelKind::causal_lm), file);
    items.resize(6);
    l2::PromptClassifier from_examples(model, tok, task, examples), from_items(model, tok, items);
    const std::vector<std::size_t> batch{0, 1, 2, 3, 4, 5};
    CHECK(from_items.loss(batch) == from_examples.loss(batch));
    CHECK(from_items.predict(batch) == from_examples.predict(batch));
    CHECK(from_items.label(3) == examples[3].label);
  }
  auto encoder_items = zt::load(zt::preset("rte", ModelKind::encoder), data_dir() / "fewglue/RTE/train.jsonl");
  CHECK_THROWS_AS(l2::PromptClassifier(model, tok, encoder_items), std::invalid_argument);  // has text_b
}
