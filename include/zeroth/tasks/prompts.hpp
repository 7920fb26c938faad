#pragma once
// Prompt templates with verbalizers (MeZO / LM-BFF style): an example becomes a context and one candidate per class.
#include <cctype>
#include <string>
#include <vector>

#include "zeroth/data/example.hpp"
#include "zeroth/data/task.hpp"

namespace zeroth::tasks {

/// The text a model continues, and the continuation of each class (index = label).
struct Prompt {
  std::string context;
  std::vector<std::string> candidates;
};

/// SST-2: "<sentence> It was [terrible|great]"; RTE: "... Yes or No?" [Yes|No]; CB: [True|False|Neither];
/// BoolQ: "<passage>\n<question>?" [No|Yes]; COPA: "<premise> [because|so]" [choice1|choice2].
inline Prompt make_prompt(data::Task task, const data::Example& e) {
  using data::Task;
  auto strip_period = [](std::string s) {
    while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.pop_back();
    return s;
  };
  auto lower_first = [](std::string s) {
    if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
  };
  switch (task) {
    case Task::sst2: return {e.text + " It was", {" terrible", " great"}};
    case Task::rte:
      return {e.text + "\nDoes this mean that \"" + e.text_b + "\" is true? Yes or No?\n", {" Yes", " No"}};
    case Task::cb:
      return {e.text + "\nQuestion: " + e.text_b + " True, False, or Neither?\nAnswer:", {" True", " False", " Neither"}};
    case Task::boolq: return {e.text + "\n" + e.question + "?", {" No", " Yes"}};
    case Task::copa:
      return {strip_period(e.text) + (e.question == "cause" ? " because" : " so"),
              {" " + lower_first(e.choices.at(0)), " " + lower_first(e.choices.at(1))}};
  }
  return {};
}

}  // namespace zeroth::tasks
