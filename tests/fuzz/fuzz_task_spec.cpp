// libFuzzer target: task spec files (load_spec_file: JSON with comments, then spec_from_json). An accepted spec is
// valid, survives spec_to_json and back unchanged, and renders a row of a small data file without crashing.
#include "fuzz.hpp"
#include "zeroth/tasks/spec.hpp"

namespace zt = zeroth::tasks;
using zeroth::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile file("task.json"), rows("rows.txt");
  const auto& path = file.write(data, size);
  zt::TaskSpec spec;
  if (!zeroth::fuzz::accepts([&] { spec = zt::load_spec_file(path); }, path.string())) return 0;
  std::string error;
  check(spec.is_valid(&error));
  check(zt::spec_from_json(zt::spec_to_json(spec), "round trip") == spec);
  // One data row in the spec's format (a tab-separated header and row unless jsonl), naming every field it reads.
  std::string header, row;
  nlohmann::json object = nlohmann::json::object();
  for (const auto& f : spec.fields()) {
    const std::string value = f == spec.label_field && !spec.labels.empty() ? spec.labels[0] : "x";
    header += (header.empty() ? "" : "\t") + f;
    row += (row.empty() ? "" : "\t") + value;
    object[f] = value;
  }
  const std::string body = spec.format == zt::Format::jsonl
                               ? object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"
                               : header + "\n" + row + "\n";
  rows.write(body);
  if (spec.labels.empty())
    zeroth::fuzz::accepts([&] { spec.labels = zt::infer_labels(spec, rows.path()); }, rows.path().string());
  if (!spec.labels.empty()) zeroth::fuzz::accepts([&] { (void)zt::load(spec, rows.path(), false); });
  return 0;
}
