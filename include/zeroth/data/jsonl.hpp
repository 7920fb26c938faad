#pragma once
// SuperGLUE / FewGLUE JSON-lines files: RTE, CB, BoolQ, COPA.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "detail/text_file.hpp"
#include "example.hpp"
#include "task.hpp"

namespace zeroth::data {

namespace detail {

/// Field access on one JSON record, with errors naming file, line and field.
struct JsonRecord {
  const nlohmann::json& json;
  const std::filesystem::path& path;
  std::size_t line;

  /// The field's value; throws if it is missing.
  const nlohmann::json& field(const char* name) const {
    auto it = json.find(name);
    if (it == json.end()) fail(path, line, std::string("missing field '") + name + "'");
    return *it;
  }
  /// Throws "field 'name' must be <want>, got <type>".
  [[noreturn]] void wrong_type(const char* name, const char* want, const nlohmann::json& v) const {
    fail(path, line, std::string("field '") + name + "' must be " + want + ", got " + v.type_name());
  }
  /// A string field.
  std::string string(const char* name) const {
    const auto& v = field(name);
    if (!v.is_string()) wrong_type(name, "a string", v);
    return v.get<std::string>();
  }
  /// A string label, mapped to its index in `names`.
  int label_from(std::span<const std::string_view> names) const {
    std::string s = string("label");
    std::string list;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == s) return static_cast<int>(i);
      list += (i ? ", " : "") + std::string(names[i]);
    }
    fail(path, line, "label " + quote(s) + " is not one of " + list);
  }
};

/// Fills `ex` from one record of `task`'s jsonl, the label only when `labelled`.
inline void parse_record(Task task, const JsonRecord& r, bool labelled, Example& ex) {
  switch (task) {
    case Task::rte:
    case Task::cb:
      ex.text = r.string("premise");
      ex.text_b = r.string("hypothesis");
      if (labelled) ex.label = r.label_from(label_names(task));
      break;
    case Task::boolq:
      ex.text = r.string("passage");
      ex.question = r.string("question");
      if (labelled) {
        const auto& v = r.field("label");
        if (!v.is_boolean()) r.wrong_type("label", "a boolean", v);
        ex.label = v.get<bool>() ? 1 : 0;
      }
      break;
    case Task::copa:
      ex.text = r.string("premise");
      ex.question = r.string("question");
      if (ex.question != "cause" && ex.question != "effect")
        fail(r.path, r.line, "question " + quote(ex.question) + " is not cause or effect");
      ex.choices = {r.string("choice1"), r.string("choice2")};
      if (labelled) {
        const auto& v = r.field("label");
        if (!v.is_number_integer()) r.wrong_type("label", "an integer", v);
        auto l = v.get<long long>();
        if (l != 0 && l != 1) fail(r.path, r.line, "label " + std::to_string(l) + " is not 0 or 1");
        ex.label = static_cast<int>(l);
      }
      break;
    case Task::sst2:
      fail(r.path, 0, "SST-2 is read from tsv, not jsonl");
  }
}

}  // namespace detail

/// Reads one SuperGLUE-format jsonl file of `task` (rte, cb, boolq or copa), one JSON object per line.
/// Labels: RTE entailment/not_entailment -> 0/1; CB entailment/contradiction/neutral -> 0/1/2;
/// BoolQ false/true -> 0/1; COPA 0/1. Files without "label" (test, unlabeled) give label `unlabelled`;
/// a file that mixes labelled and unlabelled records is rejected. Throws std::runtime_error naming file:line.
///   auto rte = zeroth::data::read_jsonl(Task::rte, "../shared/data/superglue/RTE/val.jsonl");  // 277 examples
inline std::vector<Example> read_jsonl(Task task, const std::filesystem::path& path) {
  using namespace detail;
  if (task == Task::sst2) fail(path, 0, "SST-2 is read from tsv, not jsonl");
  TextFile file = read_lines(path);
  std::vector<Example> out;
  out.reserve(file.lines.size());
  bool labelled = false;
  for (auto [text, n] : file.lines) {
    if (trim(text).empty()) fail(path, n, "empty line");
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      std::string what = e.what();  // "[json.exception...] parse error at line 1, column C: reason"
      std::size_t col = what.find("column ");
      fail(path, n, "invalid JSON" + (col == std::string::npos ? ": " + what : " at " + what.substr(col)));
    }
    if (!json.is_object()) fail(path, n, std::string("expected a JSON object, got ") + json.type_name());
    bool has_label = json.contains("label");
    if (out.empty()) labelled = has_label;
    if (has_label != labelled)
      fail(path, n,
           labelled ? "missing field 'label' (earlier lines are labelled)"
                    : "unexpected field 'label' (earlier lines are unlabelled)");
    Example ex;
    ex.line = n;
    parse_record(task, JsonRecord{json, path, n}, labelled, ex);
    out.push_back(std::move(ex));
  }
  if (out.empty()) fail(path, 0, "no examples (empty file)");
  return out;
}

}  // namespace zeroth::data
