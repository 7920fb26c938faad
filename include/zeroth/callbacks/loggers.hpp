#pragma once
// CsvLogger and JsonlLogger: one row per step (step, loss, lr, eps, g_0, evaluations, seconds), flushed each step.
// "step" is the number of steps done once the row's step is taken (1 for the first; StepInfo::step + 1), the
// numbering of eval.jsonl and checkpoints, so that the row "step": s and a checkpoint at step s describe one moment.
// A failed write (a full disk) throws naming the file and the error, rather than leaving a log cut short.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "zeroth/optimizer/callback_dispatch.hpp"
#include "zeroth/optimizer/result.hpp"

namespace zeroth {

namespace detail {
class LineFile {
 public:
  LineFile(const std::filesystem::path& path, bool append)
      : path_(path.string()), f_(std::fopen(path.c_str(), append ? "ab" : "wb")) {
    if (!f_) throw std::runtime_error("zeroth: cannot open '" + path_ + "' for writing: " + std::strerror(errno));
  }
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;
  ~LineFile() { std::fclose(f_); }

  /// Writes one whole row and flushes it; throws naming the file and the error when either fails.
  void write(const std::string& row) {
    if (std::fwrite(row.data(), 1, row.size(), f_) != row.size() || std::fflush(f_) != 0)
      throw std::runtime_error("zeroth: writing '" + path_ +
                               "' failed: " + (errno ? std::strerror(errno) : "I/O error"));
  }

 private:
  std::string path_;
  std::FILE* f_;
};

/// printf into a std::string.
template <class... A>
void append_format(std::string& out, const char* format, A... args) {
  char buf[128];
  const int n = std::snprintf(buf, sizeof buf, format, args...);
  if (n < static_cast<int>(sizeof buf)) {
    out.append(buf, static_cast<std::size_t>(n));
    return;
  }
  const std::size_t at = out.size();
  out.resize(at + static_cast<std::size_t>(n) + 1);
  std::snprintf(out.data() + at, static_cast<std::size_t>(n) + 1, format, args...);
  out.resize(at + static_cast<std::size_t>(n));
}
}  // namespace detail

/// Writes `step,loss,learning_rate,epsilon,g0,evaluations,seconds,rolled_back` rows.
class CsvLogger {
 public:
  explicit CsvLogger(const std::filesystem::path& path, bool append = false) : file_(path, append) {
    if (!append) file_.write("step,loss,learning_rate,epsilon,g0,evaluations,seconds,rolled_back\n");
  }
  void on_step(const StepInfo& s) {
    std::string row;
    detail::append_format(row, "%llu,%.9g,%.9g,%.9g,%.9g,%llu,%.6f,%d\n", static_cast<unsigned long long>(s.step + 1),
                          s.loss, s.learning_rate, s.epsilon,
                          s.projected_gradient.empty() ? 0.0 : s.projected_gradient[0],
                          static_cast<unsigned long long>(s.evaluations), s.seconds, s.rolled_back ? 1 : 0);
    file_.write(row);
  }

 private:
  detail::LineFile file_;
};

/// Writes one JSON object per step ("step": steps done, from 1): {"step":..,"loss":..,"lr":..,"eps":..,"g":[..],"evaluations":..,"seconds":..}.
class JsonlLogger {
 public:
  explicit JsonlLogger(const std::filesystem::path& path, bool append = false) : file_(path, append) {}
  void on_step(const StepInfo& s) {
    std::string row;
    detail::append_format(row, "{\"step\":%llu,\"loss\":%s,\"lr\":%.9g,\"eps\":%.9g,\"g\":[",
                          static_cast<unsigned long long>(s.step + 1), number(s.loss).c_str(), s.learning_rate, s.epsilon);
    for (std::size_t k = 0; k < s.projected_gradient.size(); ++k) {
      if (k) row += ',';
      row += number(s.projected_gradient[k]);
    }
    detail::append_format(row, "],\"evaluations\":%llu,\"seconds\":%.6f,\"vanished\":%zu,\"rolled_back\":%s}\n",
                          static_cast<unsigned long long>(s.evaluations), s.seconds, s.vanished,
                          s.rolled_back ? "true" : "false");
    file_.write(row);
  }

 private:
  static std::string number(double v) {
    if (v != v || v - v != 0) return "null";  // JSON has no NaN or infinity
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
  }
  detail::LineFile file_;
};

}  // namespace zeroth
