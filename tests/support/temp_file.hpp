#pragma once
// Test helpers shared by every test executable: scratch files and folders removed at the end of their scope, and the
// message of an expected exception.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace zeroth::test {

/// A fresh path under the temp directory: "zeroth_test_<pid>_<n>_<name>", unique within the process too.
inline std::filesystem::path scratch_path(const std::string& name) {
  static std::atomic<unsigned> counter{0};
  return std::filesystem::temp_directory_path() /
         ("zeroth_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name);
}

/// Writes `contents` to `path` as bytes, replacing it; returns `path`.
inline std::filesystem::path write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  return path;
}

/// A file holding `contents`, removed when it goes out of scope.
struct TempFile {
  std::filesystem::path path;
  TempFile(const std::string& name, const std::string& contents) : path(scratch_path(name)) {
    write_file(path, contents);
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

/// An empty folder, removed with its contents when it goes out of scope.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name = "dir") : path(scratch_path(name)) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
  /// Writes `contents` to the file `name` in the folder; returns its path.
  std::filesystem::path write(const std::string& name, const std::string& contents) const {
    return write_file(path / name, contents);
  }
};

/// The message of the exception of type E that `f` throws; fails the test if it throws none.
template <class E = std::runtime_error>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  FAIL("no exception of the expected type thrown");
  return {};
}

}  // namespace zeroth::test
