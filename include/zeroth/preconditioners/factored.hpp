#pragma once
// AdaLomo-style factored second moment on the ZO estimate: row and column statistics per matrix block, grouped
// update normalisation, and a learning rate scaled by the parameters' RMS.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "zeroth/preconditioners/fused_update.hpp"

namespace zeroth {

/// Per block of shape (rows, cols) (leading dimensions folded into rows; a vector is 1 x n), with g = g-hat:
///   r <- b r + (1 - b) rowmean(g^2 + eps1), c <- b c + (1 - b) colmean(g^2 + eps1), b = 1 - t^-decay;
///   U = g / sqrt(r_row c_col / mean(r)); U /= max(1, RMS(U)); x <- (1 - lr wd) x - lr max(1e-3, RMS(x)) U.
/// State: r and c in float32, 4 (rows + cols) bytes per block. 5 sweeps per step with one direction (two read-only
/// reduction passes, summed per fixed row segment and then in order: independent of the thread count).
///   zeroth::Optimizer<zeroth::RGE, zeroth::Factored> opt({.learning_rate = 1e-2});
class Factored {
 public:
  static constexpr const char* name = "factored";
  struct Options {
    double decay = 0.8;   ///< b_t = 1 - t^-decay (AdaLomo, Adafactor)
    double eps1 = 1e-30;  ///< added to g^2
  };

  Factored() = default;
  explicit Factored(Options o) : o_(o) {
    detail::check_option(o_.decay > 0.0 && o_.decay <= 1.0, "Factored::Options::decay", "in (0, 1]", o_.decay);
    detail::check_option(o_.eps1 >= 0.0 && std::isfinite(o_.eps1), "Factored::Options::eps1", "finite and >= 0",
                         o_.eps1);
  }

  void prepare(const BufferStore& store) {
    const bool same =
        blocks_.size() == store.blocks().size() &&
        std::equal(blocks_.begin(), blocks_.end(), store.blocks().begin(), [](const B& a, const Block& b) {
          return a.r.size() * a.c.size() == (b.flags.trainable ? b.size : 0);
        });
    if (!same) {
      t_ = 0;
      blocks_.assign(store.blocks().size(), {});
      for (std::size_t i = 0; i < blocks_.size(); ++i) {
        const Block& b = store.blocks()[i];
        if (!b.flags.trainable || b.size == 0) continue;
        const bool matrix = b.shape.size() >= 2 && b.shape.back() > 0 && b.size % b.shape.back() == 0;
        const std::size_t cols = matrix ? b.shape.back() : b.size;
        blocks_[i].r.assign(b.size / cols, 0.0f);
        blocks_[i].c.assign(cols, 0.0f);
      }
    }
    ranges_.clear();
    first_.assign(blocks_.size(), 0);
    for (std::uint32_t i = 0; i < blocks_.size(); ++i) {  // fixed row segments: whole rows, at most 8 per block
      B& b = blocks_[i];
      const std::size_t rows = b.r.size(), cols = b.c.size(), seg = std::min<std::size_t>(rows, 8);
      first_[i] = ranges_.size();
      for (std::size_t s = 0; s < seg; ++s) ranges_.push_back({i, rows * s / seg * cols, rows * (s + 1) / seg * cols});
      b.rowsum.assign(rows, 0.0);
      b.colpart.assign(seg * cols, 0.0);
    }
    x2_.assign(ranges_.size(), 0.0);
    u2_.assign(ranges_.size(), 0.0);
  }

  SweepStats update(UpdateContext& c) {
    const FusedPlan p = gradient_plan(c);
    ++t_;
    const double beta = 1.0 - std::pow(static_cast<double>(t_), -o_.decay);
    for (auto& b : blocks_) {
      std::fill(b.rowsum.begin(), b.rowsum.end(), 0.0);
      std::fill(b.colpart.begin(), b.colpart.end(), 0.0);
    }
    std::fill(x2_.begin(), x2_.end(), 0.0);
    std::fill(u2_.begin(), u2_.end(), 0.0);
    // Pass 1: row and column sums of g^2 + eps1, and sum x0^2, per row segment.
    fused_visit(
        c.store, c.snapshot, p, ranges_,
        [&](std::size_t r, std::uint32_t blk, bool, std::size_t i, auto x0, auto u) {
          B& b = blocks_[blk];
          const std::size_t cols = b.c.size(), row = i / cols, seg = r - first_[blk];
          const double v = double(u) * double(u) + o_.eps1;
          b.rowsum[row] += v;
          b.colpart[seg * cols + i % cols] += v;
          x2_[r] += double(x0) * double(x0);
        },
        c.threads);
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      B& b = blocks_[i];
      if (b.r.empty()) continue;
      const std::size_t rows = b.r.size(), cols = b.c.size(), seg = b.colpart.size() / cols;
      for (std::size_t k = 0; k < rows; ++k) b.r[k] = float(beta * b.r[k] + (1 - beta) * b.rowsum[k] / double(cols));
      for (std::size_t k = 0; k < cols; ++k) {
        double s = 0;
        for (std::size_t g = 0; g < seg; ++g) s += b.colpart[g * cols + k];
        b.c[k] = float(beta * b.c[k] + (1 - beta) * s / double(rows));
      }
      double x2 = 0, rsum = 0;
      for (std::size_t g = 0; g < seg; ++g) x2 += x2_[first_[i] + g];
      for (float v : b.r) rsum += v;
      b.mean_r = rsum / double(rows);
      b.rms_x = std::sqrt(x2 / double(rows * cols));
    }
    // Pass 2: sum U^2 per row segment, for the grouped normalisation.
    fused_visit(
        c.store, c.snapshot, p, ranges_,
        [&](std::size_t r, std::uint32_t blk, bool, std::size_t i, auto, auto u) {
          const double uu = preconditioned(blocks_[blk], i, double(u));
          u2_[r] += uu * uu;
        },
        c.threads);
    const double lr = c.learning_rate, shrink = 1.0 - lr * c.weight_decay;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      B& b = blocks_[i];
      if (b.r.empty()) continue;
      double u2 = 0;
      for (std::size_t g = 0; g < b.colpart.size() / b.c.size(); ++g) u2 += u2_[first_[i] + g];
      const double rms_u = std::sqrt(u2 / double(b.r.size() * b.c.size()));
      b.step = lr * std::max(1e-3, b.rms_x) / std::max(1.0, rms_u);
    }
    // Pass 3: the update.
    return fused_sweep(
        c.store, c.snapshot, p,
        [&](std::uint32_t blk, bool decay, std::size_t i, auto x0, auto u) {
          using C = decltype(x0);
          const B& b = blocks_[blk];
          return static_cast<C>((decay ? shrink : 1.0) * double(x0) - b.step * preconditioned(b, i, double(u)));
        },
        c.threads);
  }

  /// Row and column statistics of block b.
  std::span<const float> rows(std::size_t b) const noexcept { return blocks_[b].r; }
  std::span<const float> cols(std::size_t b) const noexcept { return blocks_[b].c; }
  std::uint64_t updates() const noexcept { return t_; }
  std::size_t state_bytes() const noexcept {
    std::size_t n = 0;
    for (const auto& b : blocks_) n += (b.r.size() + b.c.size()) * sizeof(float);
    return n;
  }
  void save_state(io::Writer& w) const {
    w.put(t_);
    w.put(static_cast<std::uint64_t>(blocks_.size()));
    for (const auto& b : blocks_) {
      w.put(static_cast<std::uint64_t>(b.r.size()));
      w.put(static_cast<std::uint64_t>(b.c.size()));
      w.bytes(b.r.data(), b.r.size() * sizeof(float));
      w.bytes(b.c.data(), b.c.size() * sizeof(float));
    }
  }
  void load_state(io::Reader& r, const BufferStore& store) {
    const auto t = r.get<std::uint64_t>("factored step count");
    const std::string where = "zeroth: checkpoint '" + r.path + "': state of 'factored' ";
    if (r.get<std::uint64_t>("state block count") != store.blocks().size())
      throw std::runtime_error(where + "has a different number of blocks than the store");
    Factored f(o_);
    f.prepare(store);
    for (std::size_t i = 0; i < f.blocks_.size(); ++i) {
      B& b = f.blocks_[i];
      const auto rows = r.get<std::uint64_t>("state rows"), cols = r.get<std::uint64_t>("state cols");
      if (rows != b.r.size() || cols != b.c.size())
        throw std::runtime_error(where + "for block '" + store.blocks()[i].name + "' has shape " +
                                 std::to_string(rows) + " x " + std::to_string(cols) + ", expected " +
                                 std::to_string(b.r.size()) + " x " + std::to_string(b.c.size()));
      r.bytes(b.r.data(), rows * sizeof(float), "rule state");
      r.bytes(b.c.data(), cols * sizeof(float), "rule state");
    }
    f.t_ = t;
    *this = std::move(f);
  }

 private:
  struct B {
    std::vector<float> r, c;                 // the state
    std::vector<double> rowsum, colpart;     // scratch, allocated once
    double mean_r = 0, rms_x = 0, step = 0;  // per step
  };
  static double preconditioned(const B& b, std::size_t i, double u) {
    const std::size_t cols = b.c.size();
    return u / std::sqrt(double(b.r[i / cols]) * double(b.c[i % cols]) / b.mean_r);
  }

  Options o_{};
  std::vector<B> blocks_;
  std::vector<BufferStore::Chunk> ranges_;
  std::vector<std::size_t> first_;
  std::vector<double> x2_, u2_;
  std::uint64_t t_ = 0;
};

}  // namespace zeroth
