#pragma once
// The built-in tasks as TaskSpecs (SST-2, RTE, CB, BoolQ, COPA), for a causal LM or an encoder: data, not code paths.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "zeroth/tasks/spec.hpp"

namespace zeroth::tasks {

/// What reads the rendered items: a causal LM scores each candidate after the context; an encoder reads text (and
/// text_b) and decides itself how the verbalizers are used.
enum class ModelKind { causal_lm, encoder };

/// The presets' names, the same as data::task_name's: "sst2", "rte", "cb", "boolq", "copa".
inline std::vector<std::string_view> preset_names() { return {"sst2", "rte", "cb", "boolq", "copa"}; }

/// The spec of a built-in task. For a causal LM these are the MeZO / LM-BFF prompts: they render exactly what
/// tasks::make_prompt renders (context, candidates with their leading spaces) for every example of the shared files.
/// For an encoder the text is the sentence, premise or passage, text_b the hypothesis or question; the verbalizers
/// are label words for backends that score them (the peer scripts' "It was terrible." / "It was great." for SST-2),
/// placeholders otherwise. Throws std::invalid_argument listing the presets for an unknown name.
///   auto spec = zeroth::tasks::preset("cb", zeroth::tasks::ModelKind::causal_lm);
inline TaskSpec preset(std::string_view name, ModelKind kind) {
  const bool lm = kind == ModelKind::causal_lm;
  const std::string n(name);
  if (name == "sst2") {
    // Train/dev have a `sentence<TAB>label` header; LM-BFF's test.tsv has `label sentence` lines.
    if (lm)
      return {.name = n,
              .format = Format::tsv_or_label_text,
              .labels = {"0", "1"},
              .template_ = "{sentence} It was",
              .verbalizers = {" terrible", " great"}};
    return {.name = n,
            .format = Format::tsv_or_label_text,
            .labels = {"0", "1"},
            .template_ = "{sentence}",
            .verbalizers = {"It was terrible.", "It was great."}};
  }
  if (name == "rte") {
    if (lm)
      return {.name = n,
              .format = Format::jsonl,
              .labels = {"entailment", "not_entailment"},
              .template_ = "{premise}\nDoes this mean that \"{hypothesis}\" is true? Yes or No?\n",
              .verbalizers = {" Yes", " No"}};
    return {.name = n,
            .format = Format::jsonl,
            .labels = {"entailment", "not_entailment"},
            .template_ = "{premise}",
            .template_b = "{hypothesis}",
            .verbalizers = {"entailment", "not entailment"}};
  }
  if (name == "cb") {
    if (lm)
      return {.name = n,
              .format = Format::jsonl,
              .labels = {"entailment", "contradiction", "neutral"},
              .template_ = "{premise}\nQuestion: {hypothesis} True, False, or Neither?\nAnswer:",
              .verbalizers = {" True", " False", " Neither"}};
    return {.name = n,
            .format = Format::jsonl,
            .labels = {"entailment", "contradiction", "neutral"},
            .template_ = "{premise}",
            .template_b = "{hypothesis}",
            .verbalizers = {"entailment", "contradiction", "neutral"}};
  }
  if (name == "boolq") {  // JSON booleans: false -> class 0, true -> class 1
    if (lm)
      return {.name = n,
              .format = Format::jsonl,
              .labels = {"false", "true"},
              .template_ = "{passage}\n{question}?",
              .verbalizers = {" No", " Yes"}};
    return {.name = n,
            .format = Format::jsonl,
            .labels = {"false", "true"},
            .template_ = "{passage}",
            .template_b = "{question}?",
            .verbalizers = {"No", "Yes"}};
  }
  if (name == "copa") {  // the question is "cause" or "effect"; any other value is an error naming the row
    if (lm)
      return {.name = n,
              .format = Format::jsonl,
              .labels = {"0", "1"},
              .template_ = "{premise|strip_period} {question|map:cause=because,effect=so}",
              .verbalizers = {" {choice1|lower_first}", " {choice2|lower_first}"}};
    return {.name = n,
            .format = Format::jsonl,
            .labels = {"0", "1"},
            .template_ = "{premise}",
            .verbalizers = {"{choice1}", "{choice2}"}};
  }
  std::string valid;
  for (auto p : preset_names()) valid += (valid.empty() ? "" : ", ") + std::string(p);
  throw std::invalid_argument("zeroth: unknown task preset '" + n + "'; presets: " + valid);
}

/// A preset's default data files; `eval` is empty where the shared data has no labelled held-out file (FewGLUE's
/// BoolQ and COPA: hold out part of train).
struct PresetFiles {
  std::filesystem::path train;
  std::filesystem::path eval;
};

/// The preset's files under `data_dir` (the shared data folder, ../shared/data from the repository root).
///   auto [train, eval] = zeroth::tasks::preset_files("rte");  // ../shared/data/superglue/RTE/{train,val}.jsonl
inline PresetFiles preset_files(std::string_view name, const std::filesystem::path& data_dir = "../shared/data") {
  if (name == "sst2") return {data_dir / "sst2/train.tsv", data_dir / "sst2/dev.tsv"};
  if (name == "rte") return {data_dir / "superglue/RTE/train.jsonl", data_dir / "superglue/RTE/val.jsonl"};
  if (name == "cb") return {data_dir / "superglue/CB/train.jsonl", data_dir / "superglue/CB/val.jsonl"};
  if (name == "boolq") return {data_dir / "fewglue/BoolQ/train.jsonl", {}};
  if (name == "copa") return {data_dir / "fewglue/COPA/train.jsonl", {}};
  preset(name, ModelKind::causal_lm);  // throws, listing the presets
  return {};
}

}  // namespace zeroth::tasks
