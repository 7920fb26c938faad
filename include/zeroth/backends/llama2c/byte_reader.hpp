#pragma once
// Bounds-checked little helpers for parsing binary files held in memory.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace zeroth::llama2c::detail {

/// Reads a whole file into memory, throwing std::runtime_error naming it on failure.
inline std::vector<unsigned char> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw std::runtime_error("zeroth: '" + path.string() + "' is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("zeroth: cannot open '" + path.string() + "' for reading");
  std::vector<unsigned char> bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {  // libstdc++ throws from the stream buffer on a read error
    throw std::runtime_error("zeroth: error reading '" + path.string() + "': " + e.what());
  }
  if (in.bad()) throw std::runtime_error("zeroth: error reading '" + path.string() + "'");
  return bytes;
}

/// A cursor over a byte buffer whose reads throw (naming the file) instead of running past the end.
class ByteReader {
 public:
  ByteReader(const std::vector<unsigned char>& bytes, std::string source) : bytes_(bytes), source_(std::move(source)) {}

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  const std::string& source() const { return source_; }

  /// Throws "'file' is truncated: expected N bytes of `what`, found M" unless `n` more bytes are available.
  void require(std::size_t n, const std::string& what) const {
    if (n > remaining())
      throw std::runtime_error("zeroth: '" + source_ + "' is truncated: expected " + std::to_string(n) +
                               " bytes of " + what + ", found " + std::to_string(remaining()));
  }

  /// Reads one trivially copyable value (native byte order, as llama2.c writes it).
  template <class T>
  T read(const std::string& what) {
    static_assert(std::is_trivially_copyable_v<T>);
    require(sizeof(T), what);
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  /// Copies `n` bytes into `out`.
  void read_bytes(void* out, std::size_t n, const std::string& what) {
    require(n, what);
    if (n) std::memcpy(out, bytes_.data() + pos_, n);
    pos_ += n;
  }

  /// Fills `out` (already sized) with floats.
  void read_floats(std::vector<float>& out, const std::string& what) {
    read_bytes(out.data(), out.size() * sizeof(float), what);
  }

  void skip(std::size_t n, const std::string& what) {
    require(n, what);
    pos_ += n;
  }

 private:
  const std::vector<unsigned char>& bytes_;
  std::string source_;
  std::size_t pos_ = 0;
};

}  // namespace zeroth::llama2c::detail
