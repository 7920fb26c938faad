// libFuzzer target: a run folder as --resume and --overwrite read it (io::RunFolder): run.json, checkpoint.json (the
// checkpoint's run id, step, size and hash), checkpoint.bin, and the metrics.jsonl and eval.jsonl that resume cuts back
// to the checkpoint's step. The input is the files' contents joined by "\n@@\n" in that order (an empty part, or one
// past the input's last: the file is absent). Both calls either succeed or throw an error naming the folder; after a resume the loaded
// checkpoint is the run's (its step is the one checkpoint.json gave) and the logs hold no row past it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fixtures.hpp"
#include "fuzz.hpp"
#include "zeroth/io/run_folder.hpp"

namespace fs = std::filesystem;
using zeroth::fuzz::check;

namespace {

const char* const kFiles[] = {"run.json", "checkpoint.json", "checkpoint.bin", "metrics.jsonl", "eval.jsonl"};

// The settings of the seed runs (gen_corpus.cpp's run_folders): a resume must match them exactly.
zeroth::io::Settings settings() {
  zeroth::io::Settings s;
  s.set("model", "tiny").set("lr", 1e-4).set("steps", 10);
  return s;
}

std::uint64_t max_step(const fs::path& log) {
  std::ifstream in(log);
  std::uint64_t most = 0;
  for (std::string line; std::getline(in, line);)
    if (auto s = zeroth::io::detail::row_step(line)) most = std::max(most, *s);
  return most;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile anchor("run/x");
  const fs::path dir = anchor.path().parent_path();
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (const char* name : kFiles) {
    if (rest.data() == nullptr) break;
    const auto at = rest.find("\n@@\n");
    if (at != 0) std::ofstream(dir / name, std::ios::binary) << rest.substr(0, at);  // an empty part: no file
    rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 4);
  }
  zeroth::fuzz::Params p;
  zeroth::RunState state;
  const bool resumed = zeroth::fuzz::accepts(
      [&] {
        auto run = zeroth::io::RunFolder::resume(dir, settings());
        state = run.load_checkpoint(p.store);
      },
      dir.string());
  if (resumed) {
    for (const char* log : {"metrics.jsonl", "eval.jsonl"})
      if (fs::exists(dir / log)) check(max_step(dir / log) <= state.step);
  }
  // A new run over whatever is there: refused, or the old run's files (and only those) replaced.
  (void)zeroth::fuzz::accepts([&] { (void)zeroth::io::RunFolder::create(dir, settings(), true); }, dir.string());
  return 0;
}
