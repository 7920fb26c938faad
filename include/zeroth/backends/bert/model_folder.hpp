#pragma once
// Hugging Face model folders: load an encoder from one (config.json, model.safetensors, pooling), and write a
// fine-tuned one as a folder the same loaders (and Hugging Face's) read, never leaving a half-written folder.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include "zeroth/backends/bert/config.hpp"
#include "zeroth/backends/bert/model.hpp"
#include "zeroth/backends/bert/weights.hpp"

namespace zeroth::bert {

/// Whether `path` looks like a Hugging Face model folder (a directory with config.json).
inline bool is_model_folder(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) && std::filesystem::is_regular_file(path / "config.json", ec);
}

/// The encoder of a model folder: config.json (model_type bert), model.safetensors, and sentence-transformers'
/// pooling (1_Pooling/config.json, modules.json; mean pooling without them). Matrices in `matrices` (f32 or bf16).
///   auto enc = zeroth::bert::load_encoder("../shared/models/all-MiniLM-L6-v2");
inline Encoder load_encoder(const std::filesystem::path& folder, DType matrices = DType::f32) {
  if (!std::filesystem::is_directory(folder))
    throw std::runtime_error("zeroth: '" + folder.string() + "' is not a model folder (not a directory)");
  const Config config = read_config(folder / "config.json");
  const auto weights = folder / "model.safetensors";
  if (!std::filesystem::exists(weights))
    throw std::runtime_error("zeroth: '" + folder.string() + "' has no model.safetensors");
  return Encoder(load_weights(weights, config, matrices), read_pooling(folder));
}

/// Writes `encoder` (adapters merged, float32) to `out` as a model folder: model.safetensors beside copies of every
/// other file and folder of `source` (config.json, tokenizer files, 1_Pooling/, modules.json, ...). The folder is
/// built beside `out` and renamed into place: a crash leaves the previous `out` or the new one, never a mix.
inline void save_model_folder(const Encoder& encoder, const std::filesystem::path& source,
                              const std::filesystem::path& out) {
  namespace fs = std::filesystem;
  const fs::path tmp = out.string() + ".tmp." + std::to_string(::getpid());
  const fs::path old = out.string() + ".old." + std::to_string(::getpid());
  fs::remove_all(tmp);
  try {
    fs::create_directories(tmp);
    for (const auto& entry : fs::directory_iterator(source)) {
      const auto name = entry.path().filename();
      if (name == "model.safetensors" || name == "pytorch_model.bin") continue;
      fs::copy(entry.path(), tmp / name, fs::copy_options::recursive);
    }
    const auto tensors = encoder.merged_tensors();
    save_weights(tmp / "model.safetensors", tensors);
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
  const bool had = fs::exists(out);
  if (had) fs::rename(out, old);
  fs::rename(tmp, out);
  if (had) fs::remove_all(old);
}

}  // namespace zeroth::bert
