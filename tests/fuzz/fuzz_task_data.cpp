// libFuzzer target: data files read through a task spec, one spec per format (tsv, csv, label_text, jsonl,
// tsv_or_label_text): infer_labels, then load with and without required labels. Items hold a label in range and one
// candidate per verbalizer.
#include "fuzz.hpp"
#include "zeroth/tasks/spec.hpp"

namespace zt = zeroth::tasks;
using zeroth::fuzz::check;

namespace {

std::vector<zt::TaskSpec> specs() {
  std::vector<zt::TaskSpec> out;
  for (zt::Format f : zt::all_formats) {
    const bool one_text = f == zt::Format::label_text || f == zt::Format::tsv_or_label_text;
    out.push_back({.name = "fuzz",
                   .format = f,
                   .labels = {},
                   .template_ = one_text ? "{sentence} It was" : "{premise} Question: {hypothesis}?",
                   .template_b = one_text ? "" : "{hypothesis}",
                   .verbalizers = {" yes", " no {label}"}});
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile file("data.txt");
  static const std::vector<zt::TaskSpec> all = specs();
  const auto& path = file.write(data, size);
  for (zt::TaskSpec spec : all) {
    if (!zeroth::fuzz::accepts([&] { spec.labels = zt::infer_labels(spec, path); }, path.string())) continue;
    if (spec.labels.size() != 2) continue;  // the spec has two verbalizers
    for (bool require_labels : {true, false}) {
      std::vector<zt::Item> items;
      if (!zeroth::fuzz::accepts([&] { items = zt::load(spec, path, require_labels); }, path.string())) continue;
      for (const auto& it : items)
        check(it.candidates.size() == 2 && it.line >= 1 &&
              (it.label == zeroth::data::unlabelled || (it.label >= 0 && it.label < 2)));
    }
  }
  return 0;
}
