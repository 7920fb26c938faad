#pragma once
// A task-neutral classification example, as read by the loaders in zeroth/data.
#include <cstddef>
#include <string>
#include <vector>

namespace zeroth::data {

/// Label of an example that has none (a SuperGLUE test set, COPA's unlabeled.jsonl).
inline constexpr int unlabelled = -1;

/// One example; fields a task does not use stay empty.
///   SST-2: text = sentence.  RTE, CB: text = premise, text_b = hypothesis.
///   BoolQ: text = passage, question = question.  COPA: text = premise, question = "cause" or "effect",
///   choices = {choice1, choice2}.
struct Example {
  std::string text;                  ///< Sentence, premise or passage.
  std::string text_b;                ///< Second segment (hypothesis).
  std::string question;              ///< BoolQ question, or COPA's "cause" / "effect".
  std::vector<std::string> choices;  ///< Candidate answers (COPA's two choices).
  int label = unlabelled;            ///< Class index in [0, num_classes(task)), or `unlabelled`.
  std::size_t line = 0;              ///< 1-based line of the source file, for messages.
};

}  // namespace zeroth::data
