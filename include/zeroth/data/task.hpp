#pragma once
// The prompt-classification tasks the loaders know, their names and label sets.
#include <array>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace zeroth::data {

/// A supported task; its file layout and label encoding follow from it.
enum class Task { sst2, rte, cb, boolq, copa };

/// Every task, in declaration order.
inline constexpr std::array<Task, 5> all_tasks{Task::sst2, Task::rte, Task::cb, Task::boolq, Task::copa};

/// The task's lower-case name, as accepted by `task_from_string`: "sst2", "rte", "cb", "boolq", "copa".
constexpr std::string_view task_name(Task task) {
  switch (task) {
    case Task::sst2:
      return "sst2";
    case Task::rte:
      return "rte";
    case Task::cb:
      return "cb";
    case Task::boolq:
      return "boolq";
    case Task::copa:
      return "copa";
  }
  return "?";
}

namespace detail {
inline constexpr std::string_view sst2_labels[] = {"negative", "positive"};
inline constexpr std::string_view rte_labels[] = {"entailment", "not_entailment"};
inline constexpr std::string_view cb_labels[] = {"entailment", "contradiction", "neutral"};
inline constexpr std::string_view boolq_labels[] = {"false", "true"};
inline constexpr std::string_view copa_labels[] = {"choice1", "choice2"};
}  // namespace detail

/// Names of the task's classes, indexed by label: e.g. CB {"entailment", "contradiction", "neutral"}.
constexpr std::span<const std::string_view> label_names(Task task) {
  switch (task) {
    case Task::sst2:
      return detail::sst2_labels;
    case Task::rte:
      return detail::rte_labels;
    case Task::cb:
      return detail::cb_labels;
    case Task::boolq:
      return detail::boolq_labels;
    case Task::copa:
      return detail::copa_labels;
  }
  return {};
}

/// Number of classes: 3 for CB, 2 for the others.
constexpr int num_classes(Task task) { return static_cast<int>(label_names(task).size()); }

/// Parses a task name ("sst2", "rte", "cb", "boolq", "copa"); throws std::invalid_argument listing them otherwise.
inline Task task_from_string(std::string_view name) {
  for (Task t : all_tasks)
    if (task_name(t) == name) return t;
  std::string valid;
  for (Task t : all_tasks) valid += (valid.empty() ? "" : ", ") + std::string(task_name(t));
  throw std::invalid_argument("zeroth: unknown task '" + std::string(name) + "'; valid tasks: " + valid);
}

}  // namespace zeroth::data
