// Writes the fuzz seeds that zeroth's own writers make (scripts/gen_fuzz_corpus.sh copies the real files beside
// them): tiny llama2.c checkpoints in both formats, a prefix.bin, checkpoint.bin with each rule's state, a trajectory
// (whole and torn), a small safetensors file, the task presets as spec files, and run folders.
//   zeroth_fuzz_corpus tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "zeroth/backends/llama2c/checkpoint.hpp"
#include "zeroth/backends/llama2c/prefix_file.hpp"
#include "zeroth/io/checkpoint.hpp"
#include "zeroth/io/run_folder.hpp"
#include "zeroth/io/safetensors.hpp"
#include "zeroth/io/trajectory.hpp"
#include "zeroth/methods.hpp"
#include "zeroth/tasks/presets.hpp"
#include "zeroth/tasks/spec.hpp"

namespace fs = std::filesystem;
namespace zl = zeroth::llama2c;

namespace {

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 17) - 8);
  return v;
}

void llama2c(const fs::path& dir) {
  for (bool shared : {true, false}) {
    zl::Config c = zeroth::fuzz::tiny_llama();
    c.shared_classifier = shared;
    zl::Weights w = zl::Weights::zeros(c);
    for (auto* family : {&w.token_embedding, &w.rms_att, &w.wq, &w.wk, &w.wv, &w.wo, &w.rms_ffn, &w.w1, &w.w2, &w.w3,
                         &w.rms_final, &w.wcls})
      *family = ramp(family->size(), 0.01f);
    const std::string kind = shared ? "" : "_unshared";
    zl::save_checkpoint(dir / "llama2c_checkpoint" / ("tiny_legacy" + kind + ".bin"), w, zl::Format::legacy);
    zl::save_checkpoint(dir / "llama2c_checkpoint" / ("tiny_v1" + kind + ".bin"), w, zl::Format::v1);
  }
  const zl::Config c = zeroth::fuzz::tiny_llama();
  for (int tokens : {1, 3}) {
    const auto n = static_cast<std::size_t>(c.n_layers) * tokens * c.kv_dim();
    zl::save_prefix(dir / "llama2c_prefix" / ("prefix_" + std::to_string(tokens) + ".bin"),
                    zl::Prefix{tokens, ramp(n, 0.5f), ramp(n, -0.25f)}, c);
  }
}

template <class Opt>
void checkpoint(const fs::path& file, Opt opt) {
  zeroth::fuzz::Params p;
  (void)opt.minimize([&] { return p.loss(); }, p.store);
  zeroth::save_checkpoint(file, p.store, opt.state(), opt.preconditioner());
}

void checkpoints(const fs::path& dir) {
  zeroth::Options o = zeroth::fuzz::replay_options();
  o.max_steps = 3;
  checkpoint(dir / "identity.bin", zeroth::ZOSGD(o));
  checkpoint(dir / "momentum.bin", zeroth::ZOSGDMomentum(o));
  checkpoint(dir / "adam.bin", zeroth::ZOAdam(o));
  checkpoint(dir / "hizoo.bin", zeroth::HiZOO(o));
  checkpoint(dir / "factored.bin", zeroth::ZOFactored(o));
}

void trajectories(const fs::path& dir) {
  const fs::path whole = dir / "zosgd.bin", torn = dir / "zosgd_torn.bin";
  {
    zeroth::fuzz::Params p;
    zeroth::ZOSGD opt(zeroth::fuzz::replay_options());
    (void)opt.minimize([&] { return p.loss(); }, p.store, zeroth::TrajectoryRecorder(whole));
  }
  fs::copy_file(whole, torn, fs::copy_options::overwrite_existing);
  fs::resize_file(torn, fs::file_size(whole) - 5);  // a crash mid-record: the reader drops the torn record
}

void safetensors(const fs::path& dir) {
  const std::vector<float> f = ramp(6, 0.5f);
  const std::vector<zeroth::bfloat16> h = {zeroth::to_bfloat16(1.0f), zeroth::to_bfloat16(-2.0f)};
  const std::vector<std::int64_t> ids = {3, -1, 7};
  const std::vector<double> d = {0.25};
  const zeroth::io::TensorRef tensors[] = {{"embeddings.weight", zeroth::io::TensorDtype::f32, {2, 3}, f.data()},
                                           {"norm.bias", zeroth::io::TensorDtype::bf16, {2}, h.data()},
                                           {"position_ids", zeroth::io::TensorDtype::i64, {1, 3}, ids.data()},
                                           {"scale", zeroth::io::TensorDtype::f64, {}, d.data()},
                                           {"empty", zeroth::io::TensorDtype::f32, {0, 4}, nullptr}};
  zeroth::io::save_safetensors(dir / "small.safetensors", tensors, {{"format", "pt"}});
  zeroth::io::save_safetensors(dir / "no_tensors.safetensors", {});
}

void task_specs(const fs::path& dir) {
  for (auto name : zeroth::tasks::preset_names())
    for (auto kind : {zeroth::tasks::ModelKind::causal_lm, zeroth::tasks::ModelKind::encoder}) {
      const auto spec = zeroth::tasks::preset(name, kind);
      const std::string file = std::string(name) + (kind == zeroth::tasks::ModelKind::encoder ? "_encoder" : "_lm");
      std::ofstream(dir / (file + ".json")) << zeroth::tasks::spec_to_json(spec).dump(2) << "\n";
    }
}

}  // namespace

// Run folders as the fine-tuner leaves them (fuzz_run_folder's input: the files joined by "\n@@\n"): a run with a
// checkpoint at step 4 and logs past it (a kill after the checkpoint), and one without a checkpoint.
void run_folders(const fs::path& dir) {
  const fs::path tmp = fs::temp_directory_path() / "zeroth_fuzz_corpus_run";
  for (bool with_checkpoint : {true, false}) {
    fs::remove_all(tmp);
    zeroth::io::Settings s;
    s.set("model", "tiny").set("lr", 1e-4).set("steps", 10);
    {
      auto run = zeroth::io::RunFolder::create(tmp, s);
      zeroth::fuzz::Params p;
      if (with_checkpoint) run.save_checkpoint(p.store, zeroth::RunState{4, 8});
      for (int step = 1; step <= 6; ++step)
        zeroth::io::append_jsonl(run.file("metrics.jsonl"), nlohmann::json{{"step", step}, {"loss", 0.5}});
      for (int step : {0, 5})
        zeroth::io::append_jsonl(run.file("eval.jsonl"), nlohmann::json{{"step", step}, {"eval_loss", 0.5}});
    }
    std::string joined;
    for (const char* name : {"run.json", "checkpoint.json", "checkpoint.bin", "metrics.jsonl", "eval.jsonl"}) {
      std::ifstream in(tmp / name, std::ios::binary);
      if (name != std::string("run.json")) joined += "\n@@\n";
      joined += std::string(std::istreambuf_iterator<char>(in), {});
    }
    std::ofstream(dir / (with_checkpoint ? "killed_after_checkpoint.txt" : "no_checkpoint.txt"), std::ios::binary)
        << joined;
  }
  fs::remove_all(tmp);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* d : {"llama2c_checkpoint", "llama2c_prefix", "checkpoint", "trajectory", "safetensors", "task_spec",
                        "run_folder"})
    fs::create_directories(root / d);
  llama2c(root);
  checkpoints(root / "checkpoint");
  trajectories(root / "trajectory");
  safetensors(root / "safetensors");
  task_specs(root / "task_spec");
  run_folders(root / "run_folder");
  return 0;
}
