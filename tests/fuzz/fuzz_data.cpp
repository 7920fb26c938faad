// libFuzzer target: zeroth/data's loaders, each run on the same input: SST-2 tsv (both layouts), the four SuperGLUE
// jsonl tasks, and read_texts from a .tsv and from a plain text file. Every example accepted holds a valid label.
#include "fuzz.hpp"
#include "zeroth/data/load.hpp"
#include "zeroth/data/text.hpp"

namespace zd = zeroth::data;
using zeroth::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile tsv("data.tsv"), jsonl("data.jsonl"), txt("data.txt");
  tsv.write(data, size);
  jsonl.write(data, size);
  txt.write(data, size);
  for (zd::Task task : zd::all_tasks) {
    const auto& path = task == zd::Task::sst2 ? tsv.path() : jsonl.path();
    std::vector<zd::Example> examples;
    if (!zeroth::fuzz::accepts([&] { examples = zd::load_task(task, path); }, path.string())) continue;
    check(!examples.empty());
    for (const auto& e : examples)
      check(e.line >= 1 && (e.label == zd::unlabelled || (e.label >= 0 && e.label < zd::num_classes(task))));
  }
  for (const auto* file : {&tsv, &txt}) {
    std::vector<std::string> texts;
    if (!zeroth::fuzz::accepts([&] { texts = zd::read_texts(file->path()); }, file->path().string())) continue;
    check(!texts.empty());
    for (const auto& t : texts) check(!t.empty() && zd::detail::utf8_error(t) == std::string_view::npos);
  }
  return 0;
}
