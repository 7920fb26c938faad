#pragma once
// Loading and saving llama2.c checkpoints in the legacy (v0) and "version 1" formats.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "byte_reader.hpp"
#include "config.hpp"
#include "weights.hpp"
#include "zeroth/io/atomic_file.hpp"

namespace zeroth::llama2c {

/// On-disk layout: llama2.c's legacy export (7-int header) or its version-1 export (256-byte "ak42" header).
enum class Format { legacy, v1 };

namespace detail {

inline constexpr std::uint32_t v1_magic = 0x616b3432;  // "ak42"
inline constexpr std::size_t v1_header_bytes = 256;

/// Visits the tensor families in the order `format` stores them; `nullptr` marks legacy's RoPE tables.
template <class W, class Visit>
void for_each_family(W& w, Format format, Visit&& visit) {
  if (format == Format::legacy) {
    for (auto* f : {&w.token_embedding, &w.rms_att, &w.wq, &w.wk, &w.wv, &w.wo, &w.rms_ffn, &w.w1, &w.w2, &w.w3,
                    &w.rms_final})
      visit(f);
    visit(nullptr);
  } else {
    for (auto* f : {&w.rms_att, &w.rms_ffn, &w.rms_final, &w.token_embedding, &w.wq, &w.wk, &w.wv, &w.wo, &w.w1,
                    &w.w2, &w.w3})
      visit(f);
  }
  if (!w.config.shared_classifier) visit(&w.wcls);
}

/// Floats in legacy's two unused RoPE tables (freq_cis_real and freq_cis_imag).
inline std::uint64_t legacy_rope_floats(const Config& c) {
  return std::uint64_t{2} * c.seq_len * (c.head_size() / 2);
}

inline Config config_from_ints(const std::int32_t p[7]) {
  Config c;
  c.dim = p[0];
  c.hidden_dim = p[1];
  c.n_layers = p[2];
  c.n_heads = p[3];
  c.n_kv_heads = p[4];
  c.vocab_size = p[5];
  c.seq_len = p[6];
  return c;
}

/// Reads exactly `bytes` bytes, or throws naming the file (it was checked long enough: it shrank, or a read failed).
inline void read_exactly(std::ifstream& in, void* out, std::size_t bytes, const std::filesystem::path& path) {
  if (bytes && !in.read(static_cast<char*>(out), static_cast<std::streamsize>(bytes)))
    throw std::runtime_error("zeroth: error reading '" + path.string() + "': it ended early or could not be read");
}

/// Writes `bytes` to `f`, the temporary of io::write_atomic for `path`; throws naming `path` and the error.
inline void write_raw(std::FILE* f, const void* data, std::size_t bytes, const std::filesystem::path& path) {
  if (bytes && std::fwrite(data, 1, bytes, f) != bytes) {
    const int err = errno;
    throw std::runtime_error("zeroth: writing '" + path.string() + "' failed: " +
                             (err ? std::strerror(err) : "short write"));
  }
}

/// Throws naming the file and the tensor when a tensor of `w` holds a NaN or an infinity (a model that cannot give a
/// finite loss: every evaluation would be NaN).
inline void require_finite(Weights& w, const std::filesystem::path& path) {
  for (const TensorView& t : w.tensors()) {
    const std::size_t at = t.bf16 ? first_non_finite(t.bf16, t.size) : first_non_finite(t.data, t.size);
    if (at == t.size) continue;
    const float v = t.bf16 ? to_float(t.bf16[at]) : t.data[at];
    throw std::runtime_error("zeroth: '" + path.string() + "': tensor '" + t.name + "' holds " +
                             (v != v ? "NaN" : v > 0 ? "+inf" : "-inf") + " at element " + std::to_string(at) +
                             " (of " + std::to_string(t.size) + "): a model must hold finite numbers");
  }
}

}  // namespace detail

/// Reads a llama2.c checkpoint, detecting its format (reported through `format` when non-null). The tensors go from
/// the file straight into their buffers, never through a copy of the whole file; with `matrices` = DType::bf16 the
/// matrices are rounded to bfloat16 (to nearest even, as Weights::to_bfloat16) 64 Ki floats at a time, so loading
/// never holds them in float32. `path` must be a regular file. Throws std::runtime_error naming the file on a corrupt
/// header, truncation or trailing bytes, and std::invalid_argument for `matrices` other than f32 or bf16.
inline Weights load_checkpoint(const std::filesystem::path& path, Format* format = nullptr,
                               DType matrices = DType::f32) {
  if (matrices != DType::f32 && matrices != DType::bf16)
    throw std::invalid_argument("zeroth: llama2.c matrices are f32 or bf16, not " + std::string(to_string(matrices)));
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("zeroth: cannot open '" + path.string() + "' for reading");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw std::runtime_error("zeroth: '" + path.string() + "' is not a regular file (a directory, pipe or device); a "
                             "checkpoint is read with seeks");
  file.seekg(0, std::ios::end);
  const std::streamoff end = file.tellg();
  if (end < 0) throw std::runtime_error("zeroth: cannot find the size of '" + path.string() + "'");
  const auto size = static_cast<std::uint64_t>(end);
  file.seekg(0);
  std::vector<unsigned char> head(std::min<std::uint64_t>(size, detail::v1_header_bytes));  // every header fits
  detail::read_exactly(file, head.data(), head.size(), path);
  detail::ByteReader in(head, path.string());
  std::uint32_t magic = 0;
  if (head.size() >= 4) std::memcpy(&magic, head.data(), 4);
  const Format fmt = magic == detail::v1_magic ? Format::v1 : Format::legacy;

  std::int32_t p[7];
  Config config;
  if (fmt == Format::v1) {
    in.require(detail::v1_header_bytes, "header");
    in.skip(4, "header");
    const auto version = in.read<std::int32_t>("header");
    if (version != 1)
      throw std::runtime_error("zeroth: '" + path.string() + "' has unsupported format version " +
                               std::to_string(version));
    for (auto& v : p) v = in.read<std::int32_t>("header");
    config = detail::config_from_ints(p);
    const auto shared = in.read<std::uint8_t>("header");
    if (shared > 1)
      throw std::runtime_error("zeroth: '" + path.string() + "' has a corrupt header: shared_classifier flag is " +
                               std::to_string(shared));
    config.shared_classifier = shared == 1;
    in.skip(detail::v1_header_bytes - in.position(), "header");
  } else {
    for (auto& v : p) v = in.read<std::int32_t>("header");
    config = detail::config_from_ints(p);
    // A negative vocabulary size marks an unshared classifier (guard against negating INT_MIN).
    config.shared_classifier = config.vocab_size > 0;
    if (config.vocab_size < 0 && config.vocab_size != std::numeric_limits<std::int32_t>::min())
      config.vocab_size = -config.vocab_size;
  }
  validate(config, path.string());

  std::uint64_t floats = config.parameter_count();
  if (fmt == Format::legacy) floats += detail::legacy_rope_floats(config);
  const std::uint64_t expected = floats * sizeof(float), remaining = size - in.position();
  if (expected > remaining)
    throw std::runtime_error("zeroth: '" + path.string() + "' is truncated: expected " + std::to_string(expected) +
                             " bytes of tensors, found " + std::to_string(remaining));
  if (expected < remaining)
    throw std::runtime_error("zeroth: '" + path.string() + "' has " + std::to_string(remaining - expected) +
                             " unexpected trailing bytes after its tensors");

  Weights w = Weights::zeros(config, matrices);
  if (!file.seekg(static_cast<std::streamoff>(in.position())))
    throw std::runtime_error("zeroth: cannot seek in '" + path.string() + "'");
  const auto families = Weights::matrix_families(w);
  std::vector<float> piece;
  detail::for_each_family(w, fmt, [&](std::vector<float>* family) {
    if (!family) {
      if (!file.seekg(static_cast<std::streamoff>(detail::legacy_rope_floats(config) * sizeof(float)), std::ios::cur))
        throw std::runtime_error("zeroth: cannot seek in '" + path.string() + "'");
      return;
    }
    std::vector<bfloat16>* half = nullptr;
    for (auto [f32, b16] : families)
      if (f32 == family && matrices == DType::bf16) half = b16;
    if (!half) return detail::read_exactly(file, family->data(), family->size() * sizeof(float), path);
    piece.resize(std::min<std::size_t>(half->size(), std::size_t{1} << 16));
    for (std::size_t i = 0; i < half->size(); i += piece.size()) {
      const std::size_t n = std::min(piece.size(), half->size() - i);
      detail::read_exactly(file, piece.data(), n * sizeof(float), path);
      for (std::size_t j = 0; j < n; ++j) (*half)[i + j] = to_bfloat16(piece[j]);
    }
  });
  detail::require_finite(w, path);
  if (format) *format = fmt;
  return w;
}

/// As above, the matrices stored as `matrices` says: load_checkpoint(path, DType::bf16).
inline Weights load_checkpoint(const std::filesystem::path& path, DType matrices) {
  return load_checkpoint(path, nullptr, matrices);
}

/// Writes `weights` to `path` in `format`, atomically (a crash leaves the old file or the new one). bfloat16 matrices
/// are written as float32 (exactly), as the format requires.
inline void save_checkpoint(const std::filesystem::path& path, const Weights& weights, Format format) {
  if (weights.matrix_dtype == DType::bf16) return save_checkpoint(path, weights.float32(), format);
  const Config& c = weights.config;
  validate(c, path.string());
  if (!weights.has_consistent_sizes())
    throw std::logic_error("zeroth: weights do not match their config");
  const std::int32_t p[7] = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                             c.shared_classifier || format == Format::v1 ? c.vocab_size : -c.vocab_size,
                             c.seq_len};
  io::write_atomic(path, [&](std::FILE* f) {
    if (format == Format::v1) {
      unsigned char header[detail::v1_header_bytes] = {};
      const std::int32_t version = 1;
      std::memcpy(header, &detail::v1_magic, 4);
      std::memcpy(header + 4, &version, 4);
      std::memcpy(header + 8, p, sizeof p);
      header[8 + sizeof p] = c.shared_classifier ? 1 : 0;
      detail::write_raw(f, header, sizeof header, path);
    } else {
      detail::write_raw(f, p, sizeof p, path);
    }
    detail::for_each_family(weights, format, [&](const std::vector<float>* family) {
      if (family) {
        detail::write_raw(f, family->data(), family->size() * sizeof(float), path);
        return;
      }
      // Legacy's RoPE tables, which readers skip: cos then sin of pos * 10000^(-2i/head_size).
      const int half = c.head_size() / 2;
      std::vector<float> cos_table(static_cast<std::size_t>(c.seq_len) * half), sin_table(cos_table.size());
      for (int pos = 0; pos < c.seq_len; ++pos)
        for (int i = 0; i < half; ++i) {
          const float freq = 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / static_cast<float>(c.head_size()));
          cos_table[static_cast<std::size_t>(pos) * half + i] = std::cos(static_cast<float>(pos) * freq);
          sin_table[static_cast<std::size_t>(pos) * half + i] = std::sin(static_cast<float>(pos) * freq);
        }
      detail::write_raw(f, cos_table.data(), cos_table.size() * sizeof(float), path);
      detail::write_raw(f, sin_table.data(), sin_table.size() * sizeof(float), path);
    });
  });
}

/// As above, first checking that `config` is the one `weights` was built for.
inline void save_checkpoint(const std::filesystem::path& path, const Config& config, const Weights& weights,
                            Format format) {
  if (!(config == weights.config)) throw std::invalid_argument("zeroth: config does not match the weights' config");
  save_checkpoint(path, weights, format);
}

}  // namespace zeroth::llama2c
