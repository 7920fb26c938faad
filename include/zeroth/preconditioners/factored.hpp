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

#include "zeroth/core/exact_math.hpp"
#include "zeroth/preconditioners/fused_update.hpp"

namespace zeroth {

/// Factored's arithmetic, for host and device (zeroth/cuda/factored.cuh): every sum runs per row or per column in
/// element order, so the device kernels, one thread per row or column, give the CPU's bits.
namespace detail::factored {
/// g^2 + eps1: one element's share of its row and column statistics.
ZEROTH_HOST_DEVICE inline double square(double u, double eps1) { return exact::fma(u, u, eps1); }
/// b old + (1 - b) sum / count, rounded to the float state.
ZEROTH_HOST_DEVICE inline float moment(double beta, float old, double sum, double count) {
  return static_cast<float>(exact::fma(beta, static_cast<double>(old), exact::div(exact::mul(1.0 - beta, sum), count)));
}
/// U = u / sqrt(r c / mean(r)).
ZEROTH_HOST_DEVICE inline double preconditioned(float r, float c, double mean_r, double u) {
  return exact::div(u, exact::sqrt(exact::div(exact::mul(static_cast<double>(r), static_cast<double>(c)), mean_r)));
}
/// lr max(eps2, RMS(x)) / max(1, RMS(U)), from the sums of squares x2 and u2 over n elements.
ZEROTH_HOST_DEVICE inline double step(double lr, double x2, double u2, double n, double eps2) {
  const double rms_x = exact::sqrt(exact::div(x2, n)), rms_u = exact::sqrt(exact::div(u2, n));
  return exact::div(exact::mul(lr, rms_x > eps2 ? rms_x : eps2), rms_u > 1.0 ? rms_u : 1.0);
}
/// The new value of one element: shrink x0 - step U (shrink only for decay blocks).
ZEROTH_HOST_DEVICE inline double update(bool decay, double shrink, double step, double x0, double U) {
  return exact::fma(decay ? shrink : 1.0, x0, -exact::mul(step, U));
}
/// The first row of part p when `rows` rows are split into `parts` (the CPU's parallel ranges, the device's partial
/// column sums).
ZEROTH_HOST_DEVICE inline std::size_t part_row(std::size_t rows, std::size_t parts, std::size_t p) {
  return rows * p / parts;
}
/// Rows split into at most 8 parts.
ZEROTH_HOST_DEVICE inline std::size_t parts_of(std::size_t rows) { return rows < 8 ? rows : 8; }

/// One block's update from a dense gradient g ([rows x cols], row-major; x likewise, updated in place; r and c the
/// state): the arithmetic of Factored::update in its order (row sums in element order, column sums per row part,
/// then over the parts), for a first-order caller (AdaLomo, zeroth/backends/torch/adalomo.hpp). Fed the u the rule
/// sees, it gives the rule's bits.
template <class X, class G>
void dense_update(std::span<float> r, std::span<float> c, std::span<X> x, std::span<const G> g, double beta,
                  double lr, double weight_decay, bool decay, double eps1, double eps2) {
  const std::size_t rows = r.size(), cols = c.size(), parts = parts_of(rows);
  std::vector<double> rowsum(rows, 0.0), x2(rows, 0.0), u2(rows, 0.0), colpart(parts * cols, 0.0);
  for (std::size_t s = 0; s < parts; ++s)
    for (std::size_t row = part_row(rows, parts, s); row < part_row(rows, parts, s + 1); ++row)
      for (std::size_t j = 0; j < cols; ++j) {
        const std::size_t i = row * cols + j;
        const double v = square(double(g[i]), eps1);
        rowsum[row] += v;
        colpart[s * cols + j] += v;
        x2[row] = exact::fma(double(x[i]), double(x[i]), x2[row]);
      }
  for (std::size_t k = 0; k < rows; ++k) r[k] = moment(beta, r[k], rowsum[k], double(cols));
  for (std::size_t k = 0; k < cols; ++k) {
    double sum = 0;
    for (std::size_t s = 0; s < parts; ++s) sum += colpart[s * cols + k];
    c[k] = moment(beta, c[k], sum, double(rows));
  }
  double rsum = 0;
  for (float v : r) rsum += double(v);
  const double mean_r = exact::div(rsum, double(rows));
  for (std::size_t i = 0; i < rows * cols; ++i) {
    const double u = preconditioned(r[i / cols], c[i % cols], mean_r, double(g[i]));
    u2[i / cols] = exact::fma(u, u, u2[i / cols]);
  }
  double sx = 0, su = 0;
  for (std::size_t k = 0; k < rows; ++k) sx += x2[k];
  for (std::size_t k = 0; k < rows; ++k) su += u2[k];
  const double st = step(lr, sx, su, double(rows * cols), eps2), shrink = 1.0 - lr * weight_decay;
  for (std::size_t i = 0; i < rows * cols; ++i)
    x[i] = static_cast<X>(
        update(decay, shrink, st, double(x[i]), preconditioned(r[i / cols], c[i % cols], mean_r, double(g[i]))));
}
}  // namespace detail::factored

/// Per block of shape (rows, cols) (leading dimensions folded into rows; a vector is 1 x n), with g = g-hat:
///   r <- b r + (1 - b) rowmean(g^2 + eps1), c <- b c + (1 - b) colmean(g^2 + eps1), b = 1 - t^-decay;
///   U = g / sqrt(r_row c_col / mean(r)); U /= max(1, RMS(U)); x <- (1 - lr wd) x - lr max(eps2, RMS(x)) U.
/// State: r and c in float32, 4 (rows + cols) bytes per block. 5 sweeps per step with one direction (two read-only
/// reduction passes; every sum runs per row, or per column and fixed row part, in element order: independent of the
/// thread count, and the device rule's bits).
///   zeroth::Optimizer<zeroth::RGE, zeroth::Factored> opt({.learning_rate = 1e-2});
class Factored {
 public:
  static constexpr const char* name = "factored";
  struct Options {
    double decay = 0.8;   ///< b_t = 1 - t^-decay (AdaLomo, Adafactor)
    double eps1 = 1e-30;  ///< added to g^2
    /// The least parameter scale the step is relative to (AdaLomo's and Adafactor's 1e-3, for pretrained weights).
    /// From x0 = 0 there is no scale to be relative to: the first steps are lr eps2 and grow with RMS(x), so with
    /// 1e-3 a run stalls; set eps2 to the scale the parameters should reach (e.g. 1 for a black box on unit scale).
    double eps2 = 1e-3;
  };

  Factored() = default;
  explicit Factored(Options o) : o_(o) {
    detail::check_option(o_.decay > 0.0 && o_.decay <= 1.0, "Factored::Options::decay", "in (0, 1]", o_.decay);
    detail::check_option(o_.eps1 >= 0.0 && std::isfinite(o_.eps1), "Factored::Options::eps1", "finite and >= 0",
                         o_.eps1);
    detail::check_option(o_.eps2 > 0.0 && std::isfinite(o_.eps2), "Factored::Options::eps2", "finite and > 0",
                         o_.eps2);
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
    for (std::uint32_t i = 0; i < blocks_.size(); ++i) {  // fixed row parts: whole rows, at most 8 per block
      B& b = blocks_[i];
      const std::size_t rows = b.r.size(), cols = b.c.size(), parts = detail::factored::parts_of(rows);
      first_[i] = ranges_.size();
      for (std::size_t s = 0; s < parts; ++s)
        ranges_.push_back({i, detail::factored::part_row(rows, parts, s) * cols,
                           detail::factored::part_row(rows, parts, s + 1) * cols});
      b.rowsum.assign(rows, 0.0);
      b.x2.assign(rows, 0.0);
      b.u2.assign(rows, 0.0);
      b.colpart.assign(parts * cols, 0.0);
    }
  }

  SweepStats update(UpdateContext& c) {
    namespace f = detail::factored;
    const FusedPlan p = gradient_plan(c);
    ++t_;
    const double beta = 1.0 - std::pow(static_cast<double>(t_), -o_.decay);
    for (auto& b : blocks_) {
      std::fill(b.rowsum.begin(), b.rowsum.end(), 0.0);
      std::fill(b.x2.begin(), b.x2.end(), 0.0);
      std::fill(b.u2.begin(), b.u2.end(), 0.0);
      std::fill(b.colpart.begin(), b.colpart.end(), 0.0);
    }
    // Pass 1: per row, sums of g^2 + eps1 and of x0^2; per column and row part, sums of g^2 + eps1.
    fused_visit(
        c.store, c.snapshot, p, ranges_,
        [&](std::size_t r, std::uint32_t blk, bool, std::size_t i, auto x0, auto u) {
          B& b = blocks_[blk];
          const std::size_t cols = b.c.size(), row = i / cols, part = r - first_[blk];
          const double v = f::square(double(u), o_.eps1);
          b.rowsum[row] += v;
          b.colpart[part * cols + i % cols] += v;
          b.x2[row] = exact::fma(double(x0), double(x0), b.x2[row]);
        },
        c.threads);
    for (B& b : blocks_) {
      if (b.r.empty()) continue;
      const std::size_t rows = b.r.size(), cols = b.c.size(), parts = b.colpart.size() / cols;
      for (std::size_t k = 0; k < rows; ++k) b.r[k] = f::moment(beta, b.r[k], b.rowsum[k], double(cols));
      for (std::size_t k = 0; k < cols; ++k) {
        double s = 0;
        for (std::size_t g = 0; g < parts; ++g) s += b.colpart[g * cols + k];
        b.c[k] = f::moment(beta, b.c[k], s, double(rows));
      }
      double rsum = 0;
      for (float v : b.r) rsum += double(v);
      b.mean_r = exact::div(rsum, double(rows));
    }
    // Pass 2: per row, the sum of U^2, for the grouped normalisation.
    fused_visit(
        c.store, c.snapshot, p, ranges_,
        [&](std::size_t, std::uint32_t blk, bool, std::size_t i, auto, auto u) {
          B& b = blocks_[blk];
          const double uu = preconditioned(b, i, double(u));
          b.u2[i / b.c.size()] = exact::fma(uu, uu, b.u2[i / b.c.size()]);
        },
        c.threads);
    for (B& b : blocks_) {
      if (b.r.empty()) continue;
      double x2 = 0, u2 = 0;
      for (std::size_t k = 0; k < b.r.size(); ++k) x2 += b.x2[k];
      for (std::size_t k = 0; k < b.r.size(); ++k) u2 += b.u2[k];
      b.step = f::step(c.learning_rate, x2, u2, double(b.r.size() * b.c.size()), o_.eps2);
    }
    // Pass 3: the update.
    const double shrink = 1.0 - c.learning_rate * c.weight_decay;
    return fused_sweep(
        c.store, c.snapshot, p,
        [&](std::uint32_t blk, bool decay, std::size_t i, auto x0, auto u) {
          using C = decltype(x0);
          const B& b = blocks_[blk];
          return static_cast<C>(f::update(decay, shrink, b.step, double(x0), preconditioned(b, i, double(u))));
        },
        c.threads);
  }

  const Options& options() const noexcept { return o_; }
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
    std::vector<float> r, c;                      // the state
    std::vector<double> rowsum, x2, u2, colpart;  // scratch, allocated once: per row, and per part and column
    double mean_r = 0, step = 0;                  // per step
  };
  static double preconditioned(const B& b, std::size_t i, double u) {
    const std::size_t cols = b.c.size();
    return detail::factored::preconditioned(b.r[i / cols], b.c[i % cols], b.mean_r, u);
  }

  Options o_{};
  std::vector<B> blocks_;
  std::vector<BufferStore::Chunk> ranges_;
  std::vector<std::size_t> first_;
  std::uint64_t t_ = 0;
};

}  // namespace zeroth
