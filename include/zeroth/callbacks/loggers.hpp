#pragma once
// CsvLogger and JsonlLogger: one row per step (step, loss, lr, eps, g_0, evaluations, seconds), flushed each step.
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "zeroth/optimizer/callback_dispatch.hpp"
#include "zeroth/optimizer/result.hpp"

namespace zeroth {

namespace detail {
class LineFile {
 public:
  LineFile(const std::filesystem::path& path, bool append) : f_(std::fopen(path.c_str(), append ? "ab" : "wb")) {
    if (!f_) throw std::runtime_error("zeroth: cannot open '" + path.string() + "' for writing");
  }
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;
  ~LineFile() { std::fclose(f_); }
  std::FILE* get() const { return f_; }

 private:
  std::FILE* f_;
};
}  // namespace detail

/// Writes `step,loss,learning_rate,epsilon,g0,evaluations,seconds,rolled_back` rows.
class CsvLogger {
 public:
  explicit CsvLogger(const std::filesystem::path& path, bool append = false) : file_(path, append) {
    if (!append) std::fprintf(file_.get(), "step,loss,learning_rate,epsilon,g0,evaluations,seconds,rolled_back\n");
  }
  void on_step(const StepInfo& s) {
    std::fprintf(file_.get(), "%llu,%.9g,%.9g,%.9g,%.9g,%llu,%.6f,%d\n", static_cast<unsigned long long>(s.step),
                 s.loss, s.learning_rate, s.epsilon, s.projected_gradient.empty() ? 0.0 : s.projected_gradient[0],
                 static_cast<unsigned long long>(s.evaluations), s.seconds, s.rolled_back ? 1 : 0);
    std::fflush(file_.get());
  }

 private:
  detail::LineFile file_;
};

/// Writes one JSON object per step: {"step":..,"loss":..,"lr":..,"eps":..,"g":[..],"evaluations":..,"seconds":..}.
class JsonlLogger {
 public:
  explicit JsonlLogger(const std::filesystem::path& path, bool append = false) : file_(path, append) {}
  void on_step(const StepInfo& s) {
    std::FILE* f = file_.get();
    std::fprintf(f, "{\"step\":%llu,\"loss\":%s,\"lr\":%.9g,\"eps\":%.9g,\"g\":[",
                 static_cast<unsigned long long>(s.step), number(s.loss).c_str(), s.learning_rate, s.epsilon);
    for (std::size_t k = 0; k < s.projected_gradient.size(); ++k)
      std::fprintf(f, "%s%s", k ? "," : "", number(s.projected_gradient[k]).c_str());
    std::fprintf(f, "],\"evaluations\":%llu,\"seconds\":%.6f,\"vanished\":%zu,\"rolled_back\":%s}\n",
                 static_cast<unsigned long long>(s.evaluations), s.seconds, s.vanished,
                 s.rolled_back ? "true" : "false");
    std::fflush(f);
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
