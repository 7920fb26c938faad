#pragma once
// A tiny raster line-plot renderer: panels side by side, each with a frame, "nice" ticks (1-2-5 steps) and their
// labels, axis labels, a title and a legend; lines 2 px wide with markers at the points; text in a built-in 5x7
// bitmap font. Writes PNG through zeroth/io/png.hpp, so it needs nothing beyond the standard library.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "zeroth/io/png.hpp"

namespace zeroth::io {

/// One line of a panel: points (x[i], y[i]); non-finite points are skipped (the line joins their neighbours).
struct Series {
  std::string name;  ///< in the legend; empty: not listed
  std::vector<double> x, y;
  Color color;
  bool dashed = false;  ///< a dashed line, e.g. for a baseline
  bool markers = true;  ///< a dot at each point (left out when the points are too dense to tell apart)
};

/// One plot: its series share the axes.
struct Panel {
  std::string title, x_label, y_label;
  std::vector<Series> series;
};

namespace detail {

/// Printable ASCII 32..126 in a 5x9 cell: capitals and digits in rows 0-6, descenders in rows 7-8; bit 4 of a row
/// is the leftmost column.
inline constexpr std::uint8_t kFont[95][9] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // space
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00, 0x00},  // !
    {0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // "
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A, 0x00, 0x00},  // #
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04, 0x00, 0x00},  // $
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00, 0x00},  // %
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D, 0x00, 0x00},  // &
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // quote
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00},  // (
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00},  // )
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00, 0x00, 0x00},  // *
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00, 0x00, 0x00},  // +
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C, 0x04, 0x08},  // ,
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00, 0x00},  // -
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C, 0x00, 0x00},  // .
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00, 0x00},  // /
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E, 0x00, 0x00},  // 0
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00},  // 1
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F, 0x00, 0x00},  // 2
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E, 0x00, 0x00},  // 3
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02, 0x00, 0x00},  // 4
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E, 0x00, 0x00},  // 5
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E, 0x00, 0x00},  // 6
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00},  // 7
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E, 0x00, 0x00},  // 8
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C, 0x00, 0x00},  // 9
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00, 0x00, 0x00},  // :
    {0x00, 0x0C, 0x0C, 0x00, 0x00, 0x0C, 0x0C, 0x04, 0x08},  // ;
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00, 0x00},  // <
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00},  // =
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00, 0x00},  // >
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00, 0x00},  // ?
    {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E, 0x00, 0x00},  // @
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00, 0x00},  // A
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E, 0x00, 0x00},  // B
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E, 0x00, 0x00},  // C
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C, 0x00, 0x00},  // D
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F, 0x00, 0x00},  // E
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10, 0x00, 0x00},  // F
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F, 0x00, 0x00},  // G
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00, 0x00},  // H
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00},  // I
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C, 0x00, 0x00},  // J
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00, 0x00},  // K
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F, 0x00, 0x00},  // L
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00, 0x00},  // M
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00, 0x00},  // N
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00, 0x00},  // O
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10, 0x00, 0x00},  // P
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D, 0x00, 0x00},  // Q
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11, 0x00, 0x00},  // R
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E, 0x00, 0x00},  // S
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00},  // T
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00, 0x00},  // U
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00, 0x00},  // V
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A, 0x00, 0x00},  // W
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11, 0x00, 0x00},  // X
    {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00},  // Y
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, 0x00, 0x00},  // Z
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E, 0x00, 0x00},  // [
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00, 0x00},  // backslash
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E, 0x00, 0x00},  // ]
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // ^
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F},  // _
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // `
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F, 0x00, 0x00},  // a
    {0x10, 0x10, 0x1E, 0x11, 0x11, 0x11, 0x1E, 0x00, 0x00},  // b
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E, 0x00, 0x00},  // c
    {0x01, 0x01, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x00, 0x00},  // d
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E, 0x00, 0x00},  // e
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08, 0x00, 0x00},  // f
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // g
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00},  // h
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00},  // i
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},  // j
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00},  // k
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00},  // l
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x15, 0x15, 0x00, 0x00},  // m
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00},  // n
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E, 0x00, 0x00},  // o
    {0x00, 0x00, 0x1E, 0x11, 0x11, 0x11, 0x1E, 0x10, 0x10},  // p
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x01},  // q
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00},  // r
    {0x00, 0x00, 0x0F, 0x10, 0x0E, 0x01, 0x1E, 0x00, 0x00},  // s
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00},  // t
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D, 0x00, 0x00},  // u
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00, 0x00},  // v
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A, 0x00, 0x00},  // w
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x00, 0x00},  // x
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // y
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F, 0x00, 0x00},  // z
    {0x03, 0x04, 0x04, 0x08, 0x04, 0x04, 0x03, 0x00, 0x00},  // {
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // |
    {0x18, 0x04, 0x04, 0x02, 0x04, 0x04, 0x18, 0x00, 0x00},  // }
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00},  // ~
};

inline constexpr int kGlyphWidth = 5, kGlyphRows = 9, kCapHeight = 7, kAdvance = 6;

inline constexpr Color kInk{34, 34, 34}, kFrame{70, 70, 70}, kGrid{228, 228, 228}, kPaper{255, 255, 255};

inline const std::uint8_t* glyph(char c) {
  const int i = static_cast<unsigned char>(c);
  return kFont[(i >= 32 && i <= 126 ? i : '?') - 32];
}

inline int text_width(std::string_view s, int scale) {
  return s.empty() ? 0 : (static_cast<int>(s.size()) * kAdvance - 1) * scale;
}

/// `s` cut to at most `max_width` pixels, ending in "..." when cut.
inline std::string fit_text(std::string_view s, int max_width, int scale) {
  if (text_width(s, scale) <= max_width) return std::string(s);
  const int chars = max_width / (kAdvance * scale);
  if (chars <= 3) return std::string(s.substr(0, std::max(chars, 0)));
  return std::string(s.substr(0, static_cast<std::size_t>(chars - 3))) + "...";
}

/// Draws `s` with its top-left corner at (x, y); `up`: rotated a quarter turn anticlockwise, reading upwards from
/// (x, y), which is then the bottom-left corner.
inline void draw_text(Image& img, int x, int y, std::string_view s, Color c, int scale, bool up = false) {
  for (std::size_t k = 0; k < s.size(); ++k) {
    const auto* g = glyph(s[k]);
    const int along0 = static_cast<int>(k) * kAdvance * scale;
    for (int r = 0; r < kGlyphRows; ++r)
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (!((g[r] >> (kGlyphWidth - 1 - col)) & 1)) continue;
        for (int dy = 0; dy < scale; ++dy)
          for (int dx = 0; dx < scale; ++dx) {
            const int along = along0 + col * scale + dx, across = r * scale + dy;
            if (up)
              img.set(x + across, y - along, c);
            else
              img.set(x + along, y + across, c);
          }
      }
  }
}

/// A rectangle [x0, x1) x [y0, y1).
struct Rect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool contains(int x, int y) const { return x >= x0 && x < x1 && y >= y0 && y < y1; }
};

inline void fill(Image& img, Rect r, Color c) {
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x) img.set(x, y, c);
}

inline void frame(Image& img, Rect r, Color c) {
  for (int x = r.x0; x < r.x1; ++x) {
    img.set(x, r.y0, c);
    img.set(x, r.y1 - 1, c);
  }
  for (int y = r.y0; y < r.y1; ++y) {
    img.set(r.x0, y, c);
    img.set(r.x1 - 1, y, c);
  }
}

/// A line `width` pixels wide (across its major axis) from (x0, y0) to (x1, y1), clipped to `clip`; `dash` > 0 draws
/// `dash` pixels on, then `dash` * 2/3 off. `phase` carries the dash pattern from one segment to the next.
inline void draw_line(Image& img, Rect clip, int x0, int y0, int x1, int y1, Color c, int width, int dash = 0,
                      int* phase = nullptr) {
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  const bool x_major = dx >= -dy;
  int err = dx + dy, local = 0;
  int& step = phase ? *phase : local;
  const int period = dash + std::max(1, dash * 2 / 3);
  for (;;) {
    if (dash <= 0 || step % period < dash)
      for (int k = 0; k < width; ++k) {
        const int off = k - (width - 1) / 2;
        const int px = x_major ? x0 : x0 + off, py = x_major ? y0 + off : y0;
        if (clip.contains(px, py)) img.set(px, py, c);
      }
    ++step;
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

inline void draw_dot(Image& img, Rect clip, int cx, int cy, int radius, Color c) {
  for (int y = -radius; y <= radius; ++y)
    for (int x = -radius; x <= radius; ++x)
      if (x * x + y * y <= radius * radius + radius / 2 && clip.contains(cx + x, cy + y)) img.set(cx + x, cy + y, c);
}

struct Range {
  double lo = 0, hi = 1;
};

/// [lo, hi] widened by `pad` of its span on each side; a single value gets a span of 10% of its magnitude (1 around
/// zero); an empty range (lo > hi: no finite values) gives [0, 1].
inline Range padded_range(double lo, double hi, double pad) {
  if (!(lo <= hi)) return {0, 1};
  if (hi - lo <= 1e-12 * std::max(1.0, std::max(std::abs(lo), std::abs(hi)))) {
    const double c = 0.5 * (lo + hi), half = c == 0 ? 0.5 : 0.05 * std::abs(c);
    return {c - half, c + half};
  }
  const double p = pad * (hi - lo);
  return {lo - p, hi + p};
}

}  // namespace detail

/// The "nice" tick spacing for a span: 1, 2 or 5 times a power of ten, giving at most about `target` intervals.
///   nice_step(1.0, 5) == 0.2;  nice_step(870, 5) == 200
inline double nice_step(double span, int target = 5) {
  if (!(span > 0) || !std::isfinite(span)) return 1;
  const double raw = span / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double nice = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10;
  return nice * mag;
}

/// The multiples of nice_step(hi - lo, target) within [lo, hi], computed as k * step (no drift; exact zero).
///   nice_ticks(0.13, 0.87) == {0.2, 0.4, 0.6, 0.8}
inline std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi)) return {};
  const double step = nice_step(hi - lo, target);
  const double first = std::ceil(lo / step - 1e-9), last = std::floor(hi / step + 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last && ticks.size() < 1000; ++k) ticks.push_back(k == 0 ? 0.0 : k * step);
  return ticks;
}

/// A tick label: as many decimals as the tick spacing `step` needs ("0.2", "15", "0.05"), %g beyond 1e7 or 1e-6.
inline std::string format_tick(double v, double step) {
  char buf[64];
  if (std::abs(v) < 1e-9 * std::abs(step)) v = 0;  // no "-0" from k * step rounding
  if (std::abs(v) >= 1e7 || (step > 0 && step < 1e-6)) {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  } else {
    const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 9), v);
  }
  return buf;
}

/// Renders `panels` side by side into a `width` x `height` image, under `title` when it is not empty. Each panel has
/// a frame, grid lines and labels at nice ticks, its axis labels and title, and a legend of its named series in the
/// emptiest corner; the y range is padded, a panel without finite points says "no data". No panels: a blank image.
///   auto img = zeroth::io::render(std::vector<Panel>{{.title = "loss", .series = {{"train", x, y, {31, 119, 180}}}}});
inline Image render(std::span<const Panel> panels, int width = 1000, int height = 420, std::string_view title = {}) {
  using namespace detail;
  const int n = static_cast<int>(panels.size());
  if (width < 160 * std::max(n, 1))
    throw std::invalid_argument("zeroth: render 'width' must be at least 160 pixels per panel, got " +
                                std::to_string(width) + " for " + std::to_string(n));
  if (height < 140)
    throw std::invalid_argument("zeroth: render 'height' must be at least 140, got " + std::to_string(height));
  for (const auto& p : panels)
    for (const auto& s : p.series)
      if (s.x.size() != s.y.size())
        throw std::invalid_argument("zeroth: series '" + s.name + "' of panel '" + p.title + "' has " +
                                    std::to_string(s.x.size()) + " x values and " + std::to_string(s.y.size()) +
                                    " y values");
  Image img(width, height, kPaper);
  if (n == 0) return img;

  // Text scale: 1 up to panels of 500 x 420 pixels, growing with larger ones.
  const int sc = std::max(1, std::min(width / n / 500, height / 420));
  int top = 0;
  if (!title.empty()) {
    const auto t = fit_text(title, width - 8 * sc, 2 * sc);
    draw_text(img, (width - text_width(t, 2 * sc)) / 2, 6 * sc, t, kInk, 2 * sc);
    top = 6 * sc + 2 * kCapHeight * sc + 6 * sc;
  }

  for (int pi = 0; pi < n; ++pi) {
    const Panel& panel = panels[static_cast<std::size_t>(pi)];
    const Rect cell{pi * width / n, top, (pi + 1) * width / n, height};
    const int cell_w = cell.x1 - cell.x0;

    // Data ranges over the finite points.
    double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
    std::size_t points = 0;
    for (const auto& s : panel.series)
      for (std::size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
          xlo = std::min(xlo, s.x[i]);
          xhi = std::max(xhi, s.x[i]);
          ylo = std::min(ylo, s.y[i]);
          yhi = std::max(yhi, s.y[i]);
          ++points;
        }
    const Range xr = padded_range(xlo, xhi, 0.03), yr = padded_range(ylo, yhi, 0.08);

    // Vertical layout: title, plot, tick labels, x label.
    const int title_h = panel.title.empty() ? 0 : 2 * kCapHeight * sc + 8 * sc;
    const int tick = 4 * sc, line_h = kGlyphRows * sc;
    const int plot_top = cell.y0 + 8 * sc + title_h;
    const int plot_bottom = cell.y1 - (tick + 3 * sc + line_h + (panel.x_label.empty() ? 0 : 4 * sc + line_h) + 4 * sc);

    // y ticks first: their labels' width sets the left margin.
    const int plot_h0 = plot_bottom - plot_top;
    const auto yticks = nice_ticks(yr.lo, yr.hi, std::clamp(plot_h0 / (40 * sc), 2, 8));
    const double ystep = yticks.size() > 1 ? yticks[1] - yticks[0] : nice_step(yr.hi - yr.lo);
    std::vector<std::string> ylabels;
    int ylabel_w = 0;
    for (double v : yticks) {
      ylabels.push_back(format_tick(v, ystep));
      ylabel_w = std::max(ylabel_w, text_width(ylabels.back(), sc));
    }
    const int left = cell.x0 + 6 * sc + (panel.y_label.empty() ? 0 : line_h + 6 * sc) + ylabel_w + 3 * sc + tick;
    const Rect plot{left, plot_top, cell.x1 - 14 * sc, plot_bottom};
    const int pw = plot.x1 - plot.x0, ph = plot.y1 - plot.y0;
    if (pw < 20 || ph < 20) throw std::invalid_argument("zeroth: render: panel '" + panel.title + "' is too small");

    // x ticks: as many as fit without their labels touching.
    std::vector<double> xticks;
    std::vector<std::string> xlabels;
    for (int target = std::clamp(pw / (70 * sc), 2, 10); target >= 1; --target) {
      xticks = nice_ticks(xr.lo, xr.hi, target);
      const double xstep = xticks.size() > 1 ? xticks[1] - xticks[0] : nice_step(xr.hi - xr.lo, target);
      xlabels.clear();
      int widest = 0;
      for (double v : xticks) {
        xlabels.push_back(format_tick(v, xstep));
        widest = std::max(widest, text_width(xlabels.back(), sc));
      }
      if (xticks.size() < 2 || (xticks[1] - xticks[0]) / (xr.hi - xr.lo) * pw > widest + 12 * sc) break;
    }

    auto to_px = [&](double x) {
      return plot.x0 + static_cast<int>(std::lround(std::clamp((x - xr.lo) / (xr.hi - xr.lo), -1.0, 2.0) * (pw - 1)));
    };
    auto to_py = [&](double y) {
      return plot.y1 - 1 -
             static_cast<int>(std::lround(std::clamp((y - yr.lo) / (yr.hi - yr.lo), -1.0, 2.0) * (ph - 1)));
    };

    // Grid, ticks and their labels.
    for (std::size_t i = 0; i < yticks.size(); ++i) {
      const int y = to_py(yticks[i]);
      for (int x = plot.x0 + 1; x < plot.x1 - 1; ++x) img.set(x, y, kGrid);
      for (int k = 1; k <= tick; ++k) img.set(plot.x0 - k, y, kFrame);
      draw_text(img, plot.x0 - tick - 3 * sc - text_width(ylabels[i], sc), y - kCapHeight * sc / 2, ylabels[i], kInk,
                sc);
    }
    for (std::size_t i = 0; i < xticks.size(); ++i) {
      const int x = to_px(xticks[i]);
      for (int y = plot.y0 + 1; y < plot.y1 - 1; ++y) img.set(x, y, kGrid);
      for (int k = 0; k < tick; ++k) img.set(x, plot.y1 + k, kFrame);
      draw_text(img, x - text_width(xlabels[i], sc) / 2, plot.y1 + tick + 3 * sc, xlabels[i], kInk, sc);
    }

    // Series: lines first, then the markers over them.
    const Rect clip{plot.x0 + 1, plot.y0 + 1, plot.x1 - 1, plot.y1 - 1};
    const int radius = 2 * sc + 1;
    for (const auto& s : panel.series) {
      int phase = 0;
      bool have = false;
      int px = 0, py = 0;
      std::size_t finite = 0;
      bool one_pixel = true;  // every point lands on the same pixel
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        const int qx = to_px(s.x[i]), qy = to_py(s.y[i]);
        if (have) {
          one_pixel = one_pixel && qx == px && qy == py;
          draw_line(img, clip, px, py, qx, qy, s.color, 2 * sc, s.dashed ? 7 * sc : 0, &phase);
        }
        px = qx;
        py = qy;
        have = true;
        ++finite;
      }
      if (finite > 0 && one_pixel && !s.markers) draw_dot(img, clip, px, py, radius, s.color);  // it must show
      if (s.markers && finite > 0 && static_cast<int>(finite) <= pw / (4 * radius))
        for (std::size_t i = 0; i < s.x.size(); ++i)
          if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
            draw_dot(img, clip, to_px(s.x[i]), to_py(s.y[i]), radius, s.color);
    }
    frame(img, plot, kFrame);
    if (points == 0) {
      const std::string_view none = "no data";
      draw_text(img, plot.x0 + (pw - text_width(none, sc)) / 2, plot.y0 + (ph - kCapHeight * sc) / 2, none, kFrame, sc);
    }

    // Legend, in the corner where the series left the fewest pixels.
    std::vector<const Series*> named;
    int name_w = 0;
    const int swatch = 22 * sc, entry_h = 12 * sc;
    for (const auto& s : panel.series)
      if (!s.name.empty()) named.push_back(&s);
    const int max_name = pw / 2;
    for (const auto* s : named) name_w = std::max(name_w, text_width(fit_text(s->name, max_name, sc), sc));
    if (!named.empty()) {
      const int bw = 6 * sc + swatch + 5 * sc + name_w + 6 * sc;
      const int bh = static_cast<int>(named.size()) * entry_h + 6 * sc;
      const int m = 6 * sc;
      const Rect corners[4] = {{plot.x1 - m - bw, plot.y0 + m, plot.x1 - m, plot.y0 + m + bh},
                               {plot.x0 + m, plot.y0 + m, plot.x0 + m + bw, plot.y0 + m + bh},
                               {plot.x1 - m - bw, plot.y1 - m - bh, plot.x1 - m, plot.y1 - m},
                               {plot.x0 + m, plot.y1 - m - bh, plot.x0 + m + bw, plot.y1 - m}};
      Rect best = corners[0];
      long fewest = std::numeric_limits<long>::max();
      for (const Rect& r : corners) {
        long ink = 0;
        for (int y = r.y0; y < r.y1; ++y)
          for (int x = r.x0; x < r.x1; ++x)
            if (img.contains(x, y) && img.at(x, y) != kPaper && img.at(x, y) != kGrid) ++ink;
        if (ink < fewest) {
          fewest = ink;
          best = r;
        }
      }
      fill(img, best, kPaper);
      frame(img, best, Color{190, 190, 190});
      for (std::size_t k = 0; k < named.size(); ++k) {
        const Series& s = *named[k];
        const int y = best.y0 + 3 * sc + static_cast<int>(k) * entry_h;
        const int mid = y + entry_h / 2 - sc;
        const int sx0 = best.x0 + 6 * sc;
        draw_line(img, best, sx0, mid, sx0 + swatch - 1, mid, s.color, 2 * sc, s.dashed ? 5 * sc : 0);
        if (s.markers) draw_dot(img, best, sx0 + swatch / 2, mid, radius, s.color);
        draw_text(img, sx0 + swatch + 5 * sc, mid - kCapHeight * sc / 2, fit_text(s.name, max_name, sc), kInk, sc);
      }
    }

    // Titles.
    if (!panel.title.empty()) {
      const auto t = fit_text(panel.title, cell_w - 8 * sc, 2 * sc);
      const int tw = text_width(t, 2 * sc);  // centred over the plot, but kept inside the cell
      const int x =
          std::clamp(plot.x0 + (pw - tw) / 2, cell.x0 + 4 * sc, std::max(cell.x0 + 4 * sc, cell.x1 - 4 * sc - tw));
      draw_text(img, x, cell.y0 + 8 * sc, t, kInk, 2 * sc);
    }
    if (!panel.x_label.empty()) {
      const auto t = fit_text(panel.x_label, pw, sc);
      draw_text(img, plot.x0 + (pw - text_width(t, sc)) / 2, plot.y1 + tick + 3 * sc + line_h + 4 * sc, t, kInk, sc);
    }
    if (!panel.y_label.empty()) {
      const auto t = fit_text(panel.y_label, ph, sc);
      draw_text(img, cell.x0 + 6 * sc, plot.y0 + (ph + text_width(t, sc)) / 2, t, kInk, sc, /*up=*/true);
    }
  }
  return img;
}

/// Writes the fine-tuner's plot to `path` (PNG, atomically): held-out loss and held-out accuracy in percent against
/// `steps`, side by side. `accuracy` holds fractions in [0, 1] (empty: that panel says "no data"); the optional
/// baselines (the zero-shot model's, at step 0) are dashed horizontal lines from step 0 to the last step.
///   zeroth::io::plot_training_curves("curves.png", steps, loss, acc, "SST-2, 15M", before.accuracy, before.loss);
inline void plot_training_curves(const std::filesystem::path& path, std::span<const double> steps,
                                 std::span<const double> loss, std::span<const double> accuracy,
                                 std::string_view title = {}, std::optional<double> baseline_accuracy = std::nullopt,
                                 std::optional<double> baseline_loss = std::nullopt, int width = 1000,
                                 int height = 420) {
  if (loss.size() != steps.size())
    throw std::invalid_argument("zeroth: plot_training_curves: 'loss' has " + std::to_string(loss.size()) +
                                " values for " + std::to_string(steps.size()) + " steps");
  if (!accuracy.empty() && accuracy.size() != steps.size())
    throw std::invalid_argument("zeroth: plot_training_curves: 'accuracy' has " + std::to_string(accuracy.size()) +
                                " values for " + std::to_string(steps.size()) + " steps");
  const std::vector<double> x(steps.begin(), steps.end());
  std::vector<double> pct;
  for (double a : accuracy) pct.push_back(100 * a);
  // A baseline is the model before training: from step 0 to the last step plotted.
  double first = 0, last = 0;
  for (double s : steps)
    if (std::isfinite(s)) {
      first = std::min(first, s);
      last = std::max(last, s);
    }
  auto flat = [&](std::string name, double v, Color c) {
    return Series{std::move(name), {first, last}, {v, v}, c, /*dashed=*/true, /*markers=*/false};
  };
  const Color blue{31, 119, 180}, green{44, 160, 44}, grey{120, 120, 120};
  std::vector<Panel> panels(2);
  panels[0] = {"held-out loss", "step", "loss", {Series{"fine-tuned", x, {loss.begin(), loss.end()}, blue}}};
  panels[1] = {"held-out accuracy (%)", "step", "accuracy (%)", {}};
  if (!pct.empty()) panels[1].series.push_back(Series{"fine-tuned", x, pct, green});
  if (baseline_loss) panels[0].series.push_back(flat("zero-shot", *baseline_loss, grey));
  if (baseline_accuracy) panels[1].series.push_back(flat("zero-shot", 100 * *baseline_accuracy, grey));
  write_png(path, render(panels, width, height, title));
}

}  // namespace zeroth::io
