#pragma once
// Little helpers for the binary checkpoint and trajectory formats: checked reads that name the file.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace zeroth::io {

/// FNV-1a 64-bit hash, to detect a corrupt checkpoint.
inline std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h = 0xCBF29CE484222325ull) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  return h;
}

/// Writes raw bytes, hashing them; throws on a short write, naming `path` (when given) and the error.
struct Writer {
  std::FILE* f;
  std::uint64_t hash = 0xCBF29CE484222325ull;
  std::string path = {};
  void bytes(const void* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, f) != n)
      throw std::runtime_error(
          (path.empty() ? std::string("zeroth: short write: ") : "zeroth: writing '" + path + "' failed: ") +
          std::strerror(errno));
    hash = fnv1a(p, n, hash);
  }
  template <class T>
  void put(const T& v) {
    bytes(&v, sizeof v);
  }
};

/// Reads raw bytes from a file, hashing them; throws naming the file when it ends early.
struct Reader {
  std::FILE* f;
  std::string path;
  std::uint64_t hash = 0xCBF29CE484222325ull;
  void bytes(void* p, std::size_t n, const char* what) {
    if (n && std::fread(p, 1, n, f) != n)
      throw std::runtime_error("zeroth: '" + path + "' is truncated (while reading " + what + ")");
    hash = fnv1a(p, n, hash);
  }
  template <class T>
  T get(const char* what) {
    T v;
    bytes(&v, sizeof v, what);
    return v;
  }
};

/// Opens a file for reading or throws naming it.
inline std::FILE* open_read(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("zeroth: cannot open '" + path.string() + "'");
  return f;
}

}  // namespace zeroth::io
