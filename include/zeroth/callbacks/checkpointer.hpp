#pragma once
// Checkpointer: saves parameters and run state every N steps (and at the end), atomically.
#include <cstdint>
#include <filesystem>

#include "zeroth/io/checkpoint.hpp"
#include "zeroth/optimizer/result.hpp"

namespace zeroth {

/// Writes a checkpoint to `path` every `every` steps; resume with
/// `opt.state() = load_checkpoint(path, store, opt.preconditioner())` (the rule's state, if any, is saved too).
class Checkpointer {
 public:
  Checkpointer(std::filesystem::path path, std::uint64_t every) : path_(std::move(path)), every_(every) {}

  template <class RunT>
  void on_step(const StepInfo& s, RunT& run) {
    if (!s.rolled_back && every_ > 0 && (s.step + 1) % every_ == 0)
      save_checkpoint(path_, run.store(), run.state(), run.preconditioner());
  }

 private:
  std::filesystem::path path_;
  std::uint64_t every_;
};

}  // namespace zeroth
