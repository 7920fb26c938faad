#pragma once
// What every fuzz target here shares: the input written to a scratch file (the loaders take paths), and the contract
// check. A loader either returns or throws a std::exception whose message is not empty and, when the loader read a
// file, names it; anything else (another exception type, a crash, a sanitizer report, a leak) is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace zeroth::fuzz {

/// Stops the run (libFuzzer saves the input) unless `ok`.
inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

/// A file under a per-process scratch folder holding the current input; removed with the folder at exit.
class ScratchFile {
 public:
  /// `name` is the file name the loader sees (its extension can matter: ".tsv").
  explicit ScratchFile(std::string_view name) : path_(folder() / name) {}
  const std::filesystem::path& path() const { return path_; }

  /// Replaces the file's contents with `size` bytes at `data`.
  const std::filesystem::path& write(const void* data, std::size_t size) const {
    std::filesystem::create_directories(path_.parent_path());
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    check(f != nullptr);
    check(size == 0 || std::fwrite(data, 1, size, f) == size);
    check(std::fclose(f) == 0);
    return path_;
  }
  const std::filesystem::path& write(std::string_view bytes) const { return write(bytes.data(), bytes.size()); }

  /// Removes the file (a loader that takes a folder must not see last input's files).
  void remove() const {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }

  /// The per-process folder: <tmp>/zeroth_fuzz_<pid>.
  static const std::filesystem::path& folder() {
    static const Cleanup cleanup;
    return cleanup.path;
  }

 private:
  struct Cleanup {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("zeroth_fuzz_" + std::to_string(::getpid()));
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  std::filesystem::path path_;
};

/// Runs `load`; true when it returned, false when it threw a std::exception with a message that contains `names`
/// (the file the loader read; empty: any non-empty message). Any other exception escapes and ends the run.
template <class Load>
bool accepts(Load&& load, std::string_view names = {}) {
  try {
    load();
    return true;
  } catch (const std::exception& e) {
    const std::string_view what = e.what();
    if (what.empty() || (!names.empty() && what.find(names) == std::string_view::npos)) {
      std::fprintf(stderr, "fuzz: the error does not name '%.*s': %s\n", static_cast<int>(names.size()), names.data(),
                   e.what());
      __builtin_trap();
    }
    return false;
  }
}

/// The input as a string_view.
inline std::string_view bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace zeroth::fuzz
