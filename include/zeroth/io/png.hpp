#pragma once
// A dependency-free PNG writer for 8-bit RGB images: the chunks, CRC-32, Adler-32 and a deflate encoder (one
// fixed-Huffman block with greedy LZ77 matching over a 32 KiB window) all written here.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "zeroth/io/atomic_file.hpp"

namespace zeroth::io {

/// An 8-bit sRGB colour.
struct Color {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color&) const = default;
};

/// An 8-bit RGB raster: row-major, top row first, 3 bytes per pixel.
///   zeroth::io::Image img(64, 32);  img.set(3, 4, {255, 0, 0});
struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;

  Image() = default;
  Image(int w, int h, Color background = {255, 255, 255}) : width(w), height(h) {
    if (w < 0 || h < 0) throw std::invalid_argument("zeroth: Image 'width' and 'height' must be >= 0");
    rgb.resize(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
    for (std::size_t i = 0; i < rgb.size(); i += 3) {
      rgb[i] = background.r;
      rgb[i + 1] = background.g;
      rgb[i + 2] = background.b;
    }
  }

  bool contains(int x, int y) const { return x >= 0 && y >= 0 && x < width && y < height; }
  /// Sets one pixel; coordinates outside the image are ignored (drawing clips at the border).
  void set(int x, int y, Color c) {
    if (!contains(x, y)) return;
    auto* p = &rgb[offset(x, y)];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  Color at(int x, int y) const {
    if (!contains(x, y))
      throw std::out_of_range("zeroth: pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") outside the image");
    const auto* p = &rgb[offset(x, y)];
    return {p[0], p[1], p[2]};
  }

 private:
  std::size_t offset(int x, int y) const {
    return (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 3;
  }
};

namespace detail {
inline constexpr auto kCrc32Table = [] {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[n] = c;
  }
  return t;
}();
}  // namespace detail

/// CRC-32 (ISO-HDLC, as in PNG and zlib); pass the previous result as `crc` to continue over more bytes.
///   crc32(bytes("123456789")) == 0xCBF43926
inline std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0) {
  std::uint32_t c = crc ^ 0xFFFFFFFFu;
  for (std::uint8_t b : bytes) c = detail::kCrc32Table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/// Adler-32 (RFC 1950, the zlib stream checksum); pass the previous result as `adler` to continue.
///   adler32(bytes("Wikipedia")) == 0x11E60398
inline std::uint32_t adler32(std::span<const std::uint8_t> bytes, std::uint32_t adler = 1) {
  constexpr std::uint32_t kMod = 65521;
  std::uint32_t a = adler & 0xFFFF, b = adler >> 16;
  while (!bytes.empty()) {
    const std::size_t n = std::min<std::size_t>(bytes.size(), 5552);  // the most bytes before b can overflow
    for (std::size_t i = 0; i < n; ++i) {
      a += bytes[i];
      b += a;
    }
    a %= kMod;
    b %= kMod;
    bytes = bytes.subspan(n);
  }
  return (b << 16) | a;
}

namespace detail {

/// Deflate's bit order: values LSB first, Huffman codes MSB first.
class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& out) : out_(out) {}
  void bits(std::uint32_t value, int n) {
    acc_ |= static_cast<std::uint64_t>(value) << fill_;
    fill_ += n;
    while (fill_ >= 8) {
      out_.push_back(static_cast<std::uint8_t>(acc_));
      acc_ >>= 8;
      fill_ -= 8;
    }
  }
  void code(std::uint32_t code, int n) {
    std::uint32_t r = 0;
    for (int i = 0; i < n; ++i) r |= ((code >> i) & 1u) << (n - 1 - i);
    bits(r, n);
  }
  void flush() {
    if (fill_ > 0) out_.push_back(static_cast<std::uint8_t>(acc_));
    acc_ = 0;
    fill_ = 0;
  }

 private:
  std::vector<std::uint8_t>& out_;
  std::uint64_t acc_ = 0;
  int fill_ = 0;
};

inline constexpr std::uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                                  31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
inline constexpr std::uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
inline constexpr std::uint16_t kDistanceBase[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                                    33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                                    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
inline constexpr std::uint8_t kDistanceExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/// Writes literal/length symbol 0..287 with the fixed Huffman code of RFC 1951 section 3.2.6.
inline void fixed_symbol(BitWriter& w, unsigned s) {
  if (s < 144)
    w.code(0x30 + s, 8);
  else if (s < 256)
    w.code(0x190 + (s - 144), 9);
  else if (s < 280)
    w.code(s - 256, 7);
  else
    w.code(0xC0 + (s - 280), 8);
}

inline void fixed_match(BitWriter& w, unsigned length, unsigned distance) {
  int l = 28;
  while (kLengthBase[l] > length) --l;
  fixed_symbol(w, 257 + static_cast<unsigned>(l));
  if (kLengthExtra[l]) w.bits(length - kLengthBase[l], kLengthExtra[l]);
  int d = 29;
  while (kDistanceBase[d] > distance) --d;
  w.code(static_cast<std::uint32_t>(d), 5);
  if (kDistanceExtra[d]) w.bits(distance - kDistanceBase[d], kDistanceExtra[d]);
}

}  // namespace detail

/// Compresses `bytes` into a zlib stream (RFC 1950): one final fixed-Huffman deflate block with greedy LZ77
/// matches (lengths 3..258, distances up to 32 KiB), then the Adler-32 of the input.
inline std::vector<std::uint8_t> zlib_compress(std::span<const std::uint8_t> bytes) {
  constexpr std::size_t kWindow = 32768, kMinMatch = 3, kMaxMatch = 258;
  constexpr int kHashBits = 15, kMaxChain = 48;
  std::vector<std::uint8_t> out = {0x78, 0x9C};  // deflate, 32 KiB window, default level; (0x789C % 31 == 0)
  out.reserve(bytes.size() / 4 + 64);
  detail::BitWriter w(out);
  w.bits(1, 1);  // BFINAL
  w.bits(1, 2);  // BTYPE = 01, fixed Huffman codes

  const std::size_t n = bytes.size();
  // head[h]: the latest position + 1 whose next three bytes hash to h (0: none); prev[i % window]: the position + 1
  // before i on the same chain.
  std::vector<std::uint32_t> head(std::size_t{1} << kHashBits, 0), prev(kWindow, 0);
  auto hash = [&](std::size_t i) {
    const std::uint32_t v = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16);
    return (v * 2654435761u) >> (32 - kHashBits);
  };
  auto insert = [&](std::size_t i) {
    const auto h = hash(i);
    prev[i % kWindow] = head[h];
    head[h] = static_cast<std::uint32_t>(i + 1);
  };

  std::size_t i = 0;
  while (i < n) {
    std::size_t best_len = 0, best_dist = 0;
    if (i + kMinMatch <= n) {
      const std::size_t limit = std::min(kMaxMatch, n - i);
      std::uint32_t cand = head[hash(i)];
      for (int chain = 0; cand != 0 && chain < kMaxChain; ++chain) {
        const std::size_t j = cand - 1;
        const std::size_t dist = i - j;
        if (dist > kWindow) break;  // older positions on the chain are farther still
        std::size_t len = 0;
        while (len < limit && bytes[j + len] == bytes[i + len]) ++len;
        if (len > best_len) {
          best_len = len;
          best_dist = dist;
          if (len == limit) break;
        }
        const std::uint32_t next = prev[j % kWindow];
        if (next == 0 || next - 1 >= j) break;  // the slot was reused by a newer position: the chain ends here
        cand = next;
      }
    }
    if (best_len >= kMinMatch) {
      detail::fixed_match(w, static_cast<unsigned>(best_len), static_cast<unsigned>(best_dist));
      const std::size_t end = i + best_len;
      for (; i < end; ++i)
        if (i + kMinMatch <= n) insert(i);
    } else {
      detail::fixed_symbol(w, bytes[i]);
      if (i + kMinMatch <= n) insert(i);
      ++i;
    }
  }
  detail::fixed_symbol(w, 256);  // end of block
  w.flush();
  const std::uint32_t a = adler32(bytes);
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(a >> s));
  return out;
}

namespace detail {
inline void put_u32_be(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

inline void png_chunk(std::vector<std::uint8_t>& out, const char (&type)[5], std::span<const std::uint8_t> data) {
  put_u32_be(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32_be(out, crc32(std::span<const std::uint8_t>(out).subspan(start)));
}
}  // namespace detail

/// The bytes of a PNG file holding `img`: signature, IHDR (8-bit RGB, no interlace), IDAT chunks of at most 1 MiB
/// carrying one zlib stream of the rows (filter type 0), IEND.
inline std::vector<std::uint8_t> encode_png(const Image& img) {
  if (img.width <= 0 || img.height <= 0)
    throw std::invalid_argument("zeroth: a PNG needs 'width' and 'height' >= 1, got " + std::to_string(img.width) +
                                "x" + std::to_string(img.height));
  const std::size_t row = static_cast<std::size_t>(img.width) * 3;
  if (img.rgb.size() != row * static_cast<std::size_t>(img.height))
    throw std::invalid_argument("zeroth: Image 'rgb' holds " + std::to_string(img.rgb.size()) + " bytes, expected " +
                                std::to_string(row * static_cast<std::size_t>(img.height)));
  std::vector<std::uint8_t> raw;
  raw.reserve((row + 1) * static_cast<std::size_t>(img.height));
  for (int y = 0; y < img.height; ++y) {
    raw.push_back(0);  // filter: none
    const auto* p = img.rgb.data() + static_cast<std::size_t>(y) * row;
    raw.insert(raw.end(), p, p + row);
  }
  const auto z = zlib_compress(raw);

  std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  detail::put_u32_be(ihdr, static_cast<std::uint32_t>(img.width));
  detail::put_u32_be(ihdr, static_cast<std::uint32_t>(img.height));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // bit depth 8, colour type 2 (RGB), deflate, filter set 0, no interlace
  detail::png_chunk(out, "IHDR", ihdr);
  constexpr std::size_t kIdatMax = std::size_t{1} << 20;
  for (std::size_t off = 0; off < z.size(); off += kIdatMax)
    detail::png_chunk(out, "IDAT", std::span<const std::uint8_t>(z).subspan(off, std::min(kIdatMax, z.size() - off)));
  detail::png_chunk(out, "IEND", {});
  return out;
}

/// Writes `img` as a PNG file, atomically (through write_atomic: a reader never sees a half-written file).
///   zeroth::io::write_png("curves.png", zeroth::io::render(panels));
inline void write_png(const std::filesystem::path& path, const Image& img) {
  const auto bytes = encode_png(img);
  write_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace zeroth::io
