#pragma once
// Accuracy with per-class counts and the majority-class baseline, as one line of text or as JSON.
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/tasks/sampling.hpp"

namespace zeroth::tasks {

/// Counts of one class.
struct ClassCounts {
  std::size_t support = 0;    ///< items whose label is this class
  std::size_t predicted = 0;  ///< items predicted as this class
  std::size_t correct = 0;    ///< items of this class predicted as it
  bool operator==(const ClassCounts&) const = default;
};

/// Accuracy over a labelled set, by class.
struct AccuracyReport {
  std::vector<std::string> names;    ///< each class's name for the text (spec.labels, or "0", "1", ...)
  std::vector<ClassCounts> classes;  ///< indexed by class
  std::size_t total = 0;
  std::size_t correct = 0;

  double accuracy() const { return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }

  /// The majority class of the labels and the accuracy of always predicting it.
  Baseline majority() const {
    std::vector<std::size_t> support;
    for (const auto& c : classes) support.push_back(c.support);
    return majority_baseline(support);
  }

  /// "accuracy 81.2% (708/872; per class: 0: 341/428, 1: 367/444; majority baseline 50.9%)": per class correct/support.
  std::string brief() const {
    auto percent = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v);
      return std::string(buf);
    };
    std::string s = "accuracy " + percent(accuracy()) + " (" + std::to_string(correct) + "/" + std::to_string(total) +
                    "; per class: ";
    for (std::size_t c = 0; c < classes.size(); ++c)
      s += (c ? ", " : "") + names[c] + ": " + std::to_string(classes[c].correct) + "/" +
           std::to_string(classes[c].support);
    return s + "; majority baseline " + percent(majority().accuracy) + ")";
  }

  /// {"accuracy", "correct", "total", "majority_class", "majority_baseline",
  ///  "per_class": [{"label", "support", "predicted", "correct"}, ...]}.
  nlohmann::json to_json() const {
    nlohmann::json per_class = nlohmann::json::array();
    for (std::size_t c = 0; c < classes.size(); ++c)
      per_class.push_back({{"label", names[c]},
                           {"support", classes[c].support},
                           {"predicted", classes[c].predicted},
                           {"correct", classes[c].correct}});
    const Baseline b = majority();
    return {{"accuracy", accuracy()},
            {"correct", correct},
            {"total", total},
            {"majority_class", names[static_cast<std::size_t>(b.label)]},
            {"majority_baseline", b.accuracy},
            {"per_class", per_class}};
  }
};

/// Tallies `predictions` against `labels` (class indices in [0, num_classes)). `names` (e.g. spec.labels) labels the
/// classes in the text and JSON; empty gives "0", "1", .... Throws std::invalid_argument on a length mismatch, a
/// label or prediction outside the classes (unlabelled items included), or names of the wrong count.
///   std::puts(zeroth::tasks::accuracy_report(labels, predictions, 2).brief().c_str());
inline AccuracyReport accuracy_report(std::span<const int> labels, std::span<const int> predictions, int num_classes,
                                      std::vector<std::string> names = {}) {
  if (num_classes < 1) throw std::invalid_argument("zeroth: accuracy_report: 'num_classes' must be >= 1");
  if (labels.size() != predictions.size())
    throw std::invalid_argument("zeroth: accuracy_report: " + std::to_string(labels.size()) + " labels but " +
                                std::to_string(predictions.size()) + " predictions");
  const auto n = static_cast<std::size_t>(num_classes);
  if (names.empty())
    for (std::size_t c = 0; c < n; ++c) names.push_back(std::to_string(c));
  if (names.size() != n)
    throw std::invalid_argument("zeroth: accuracy_report: " + std::to_string(names.size()) + " names for " +
                                std::to_string(n) + " classes");
  AccuracyReport r{std::move(names), std::vector<ClassCounts>(n), labels.size(), 0};
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const int l = labels[i], p = predictions[i];
    if (l < 0 || l >= num_classes || p < 0 || p >= num_classes)
      throw std::invalid_argument("zeroth: accuracy_report: item " + std::to_string(i) + " has label " +
                                  std::to_string(l) + " and prediction " + std::to_string(p) + ", outside [0, " +
                                  std::to_string(num_classes) + ")");
    ++r.classes[static_cast<std::size_t>(l)].support;
    ++r.classes[static_cast<std::size_t>(p)].predicted;
    if (l == p) {
      ++r.classes[static_cast<std::size_t>(l)].correct;
      ++r.correct;
    }
  }
  return r;
}

/// The sign of a classifier collapsed to equal scores: a mean cross-entropy within `tolerance` of ln(num_classes),
/// the loss of giving every class the same score. A sentence saying so (with the predictions per class), or empty
/// when the loss is not there.
///   if (auto w = zeroth::tasks::equal_scores_warning(ev.predictions, ev.loss, 2); !w.empty()) warn(w);
inline std::string equal_scores_warning(std::span<const int> predictions, double loss, int num_classes,
                                        double tolerance = 2e-3) {
  if (num_classes < 2) return {};
  const double chance = std::log(static_cast<double>(num_classes));
  if (!(std::abs(loss - chance) <= tolerance)) return {};
  std::vector<std::size_t> per_class(static_cast<std::size_t>(num_classes), 0);
  for (int p : predictions)
    if (p >= 0 && p < num_classes) ++per_class[static_cast<std::size_t>(p)];
  std::string counts;
  for (std::size_t c = 0; c < per_class.size(); ++c)
    counts += (c ? ", " : "") + std::to_string(per_class[c]) + " of class " + std::to_string(c);
  char buf[128];
  std::snprintf(buf, sizeof buf, "the loss is %.6f, within %g of ln %d = %.6f", loss, tolerance, num_classes, chance);
  return std::string(buf) + " (predictions: " + counts +
         "): the model gives every class (nearly) the same score: collapsed; a smaller learning rate may avoid it";
}

}  // namespace zeroth::tasks
