#pragma once
// Atomic file replacement: write to a temporary beside the target, flush to disk, then rename over it.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

namespace zeroth::io {

/// Writes `path` atomically: `write` fills a temporary file which replaces `path` only once complete and synced,
/// so a crash leaves either the old file or the new one, never a torn one. A failed write (a full disk) throws naming
/// `path` and the error.
///   zeroth::io::write_atomic("ckpt.bin", [&](std::FILE* f) { std::fwrite(buf, 1, n, f); });
inline void write_atomic(const std::filesystem::path& path, const std::function<void(std::FILE*)>& write) {
  auto tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  auto failed = [&](int err) {
    return std::runtime_error("zeroth: writing '" + path.string() + "' failed: " +
                              (err ? std::strerror(err) : "I/O error"));
  };
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error("zeroth: cannot open '" + tmp.string() + "' for writing: " + std::strerror(errno));
  std::error_code ignored;
  try {
    write(f);
    if (std::fflush(f) != 0 || std::ferror(f) || ::fsync(::fileno(f)) != 0) throw failed(errno);
  } catch (...) {
    const int err = errno;
    const bool io_error = std::ferror(f);  // a write failed (else `write` threw for its own reason: passed on)
    std::fclose(f);
    std::filesystem::remove(tmp, ignored);
    if (io_error) throw failed(err);
    throw;
  }
  if (std::fclose(f) != 0) {
    const int err = errno;
    std::filesystem::remove(tmp, ignored);
    throw failed(err);
  }
  std::filesystem::rename(tmp, path);  // atomic on POSIX within one file system
  // Make the rename itself durable.
  auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (int fd = ::open(dir.c_str(), O_RDONLY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

/// Writes a whole string atomically.
inline void write_atomic(const std::filesystem::path& path, std::string_view bytes) {
  write_atomic(path, [&](std::FILE* f) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
      throw std::runtime_error("zeroth: short write to '" + path.string() + "'");
  });
}

}  // namespace zeroth::io
