#pragma once
// ProgressBar: one line on stderr, redrawn at most ten times a second: step, bar, loss, rate, ETA.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "zeroth/optimizer/callback_dispatch.hpp"
#include "zeroth/optimizer/result.hpp"

namespace zeroth {

/// Draws `step 120/1000 [=====>      ] loss 0.6931 (avg 0.6950)  41.2 step/s  ETA 0:21` on stderr.
class ProgressBar {
 public:
  explicit ProgressBar(int width = 30, std::FILE* out = stderr) : width_(width), out_(out) {}

  void on_begin(const RunInfo& i) {
    total_ = i.max_steps;
    first_ = i.first_step;
    start_ = last_ = std::chrono::steady_clock::now();
  }

  void on_step(const StepInfo& s) {
    avg_ = n_ == 0 ? s.loss : 0.95 * avg_ + 0.05 * s.loss;
    ++n_;
    const auto now = std::chrono::steady_clock::now();
    if (s.step + 1 < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    draw(s.step + 1, s.loss, now);
  }

  void on_end(const Result& r) {
    std::fprintf(out_, "\n%s (%s) after %llu steps, %.1f s\n", r.ok() ? "done" : "ended",
                 r.message.c_str(), static_cast<unsigned long long>(r.steps), r.seconds);
    std::fflush(out_);
  }

 private:
  void draw(std::uint64_t done, double loss, std::chrono::steady_clock::time_point now) {
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done - first_) / secs : 0.0;
    const double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
    const int fill = static_cast<int>(frac * width_);
    std::string bar(static_cast<std::size_t>(width_), ' ');
    for (int i = 0; i < fill && i < width_; ++i) bar[static_cast<std::size_t>(i)] = '=';
    if (fill < width_) bar[static_cast<std::size_t>(fill)] = '>';
    const long eta = rate > 0 ? static_cast<long>(static_cast<double>(total_ - done) / rate) : 0;
    std::fprintf(out_, "\rstep %llu/%llu [%s] loss %.4f (avg %.4f) %7.1f step/s ETA %ld:%02ld ",
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_), bar.c_str(), loss,
                 avg_, rate, eta / 60, eta % 60);
    std::fflush(out_);
  }

  int width_;
  std::FILE* out_;
  std::uint64_t total_ = 0, first_ = 0, n_ = 0;
  double avg_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace zeroth
