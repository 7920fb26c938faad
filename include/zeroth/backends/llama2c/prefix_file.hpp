#pragma once
// prefix.bin: a trained prefix (Prefix), written by zeroth-finetune beside model.bin. Layout: int32 n_layers,
// tokens, kv_dim; then keys and values, float32 [n_layers x tokens x kv_dim] each.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/io/atomic_file.hpp"

#include "byte_reader.hpp"
#include "checkpoint.hpp"
#include "config.hpp"
#include "peft.hpp"

namespace zeroth::llama2c {

/// Writes `prefix` for a model of `config` to `path`, atomically.
inline void save_prefix(const std::filesystem::path& path, const Prefix& prefix, const Config& config) {
  const auto n = static_cast<std::size_t>(config.n_layers) * prefix.tokens * config.kv_dim();
  if (!prefix.enabled() || prefix.keys.size() != n || prefix.values.size() != n)
    throw std::invalid_argument("zeroth: the prefix does not match the model's config");
  const std::int32_t head[3] = {config.n_layers, prefix.tokens, config.kv_dim()};
  io::write_atomic(path, [&](std::FILE* f) {
    detail::write_raw(f, head, sizeof head, path);
    detail::write_raw(f, prefix.keys.data(), n * sizeof(float), path);
    detail::write_raw(f, prefix.values.data(), n * sizeof(float), path);
  });
}

/// Reads a prefix for a model of `config` (Model::set_prefix installs it). Throws std::runtime_error naming the file
/// when its layers or kv_dim differ from the config's, its token count is outside [1, seq_len), it is truncated or
/// longer than its header says, or a value is not finite.
inline Prefix load_prefix(const std::filesystem::path& path, const Config& config) {
  const std::vector<unsigned char> bytes = detail::read_file(path);
  detail::ByteReader in(bytes, path.string());
  const auto layers = in.read<std::int32_t>("the header"), tokens = in.read<std::int32_t>("the header"),
             kv_dim = in.read<std::int32_t>("the header");
  const std::string where = "zeroth: prefix file '" + path.string() + "' ";
  if (layers != config.n_layers || kv_dim != config.kv_dim())
    throw std::runtime_error(where + "is for " + std::to_string(layers) + " layers of kv_dim " +
                             std::to_string(kv_dim) + "; the model has " + std::to_string(config.n_layers) + " of " +
                             std::to_string(config.kv_dim()));
  if (tokens < 1 || tokens >= config.seq_len)
    throw std::runtime_error(where + "has " + std::to_string(tokens) + " tokens; expected 1 to " +
                             std::to_string(config.seq_len - 1));
  Prefix p{tokens, std::vector<float>(static_cast<std::size_t>(layers) * tokens * kv_dim), {}};
  p.values.resize(p.keys.size());
  in.read_floats(p.keys, "prefix keys");
  in.read_floats(p.values, "prefix values");
  if (in.remaining() != 0)
    throw std::runtime_error(where + "has " + std::to_string(in.remaining()) + " bytes after its values");
  for (const auto* v : {&p.keys, &p.values})
    for (float x : *v)
      if (!std::isfinite(x)) throw std::runtime_error(where + "holds a value that is not finite");
  return p;
}

}  // namespace zeroth::llama2c
