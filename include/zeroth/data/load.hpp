#pragma once
// One entry point for every task's files: SST-2 tsv or SuperGLUE jsonl.
#include <filesystem>
#include <vector>

#include "example.hpp"
#include "jsonl.hpp"
#include "task.hpp"
#include "tsv.hpp"

namespace zeroth::data {

/// Reads `path` in `task`'s format (tsv for SST-2, jsonl for the others); throws std::runtime_error naming
/// file:line and the problem on a missing file or malformed row.
///   auto dev = zeroth::data::load_task(zeroth::data::task_from_string("cb"), "../shared/data/superglue/CB/val.jsonl");
inline std::vector<Example> load_task(Task task, const std::filesystem::path& path) {
  return task == Task::sst2 ? read_sst2_tsv(path) : read_jsonl(task, path);
}

}  // namespace zeroth::data
