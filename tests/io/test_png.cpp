// PNG writer and plot renderer: checksums against known values, deflate round trips through an inflater written
// here (itself checked on streams made by zlib), PNG chunks and pixels read back exactly, nice ticks, and plots whose
// pixels sit where the data says.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <zeroth/io/plot.hpp>
#include <zeroth/io/png.hpp>

using namespace zeroth::io;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

fs::path temp_dir() {
  auto p = fs::temp_directory_path() / ("zeroth_png_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p;
}

Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

std::uint32_t be32(const Bytes& b, std::size_t at) {
  return std::uint32_t(b.at(at)) << 24 | std::uint32_t(b.at(at + 1)) << 16 | std::uint32_t(b.at(at + 2)) << 8 |
         b.at(at + 3);
}

/// An inflater for stored and fixed-Huffman deflate blocks (all that zlib_compress writes), independent of the
/// encoder: it decodes the fixed code by its ranges in RFC 1951 rather than by the encoder's tables.
class Inflater {
 public:
  explicit Inflater(const Bytes& in) : in_(in) {}

  Bytes zlib() {
    const unsigned cmf = byte(), flg = byte();
    if ((cmf & 0x0F) != 8 || (cmf * 256 + flg) % 31 != 0 || (flg & 0x20)) throw std::runtime_error("zlib header");
    Bytes out;
    for (bool last = false; !last;) {
      last = bits(1);
      const unsigned type = bits(2);
      if (type == 0)
        stored(out);
      else if (type == 1)
        fixed(out);
      else
        throw std::runtime_error("block type " + std::to_string(type) + " not handled by this test inflater");
    }
    bit_ = 0;  // the Adler-32 starts on a byte boundary
    std::uint32_t adler = 0;
    for (int i = 0; i < 4; ++i) adler = adler << 8 | byte();
    if (adler != adler32(out)) throw std::runtime_error("adler-32 mismatch");
    if (pos_ != in_.size()) throw std::runtime_error("trailing bytes");
    return out;
  }

 private:
  unsigned byte() {
    if (pos_ >= in_.size()) throw std::runtime_error("stream truncated");
    return in_[pos_++];
  }
  unsigned bits(int n) {  // LSB first
    unsigned v = 0;
    for (int i = 0; i < n; ++i) {
      if (bit_ == 0) cur_ = byte();
      v |= ((cur_ >> bit_) & 1u) << i;
      bit_ = (bit_ + 1) % 8;
    }
    return v;
  }
  unsigned code_bit() { return bits(1); }  // Huffman codes: MSB first, one bit at a time
  void stored(Bytes& out) {
    bit_ = 0;
    unsigned len = byte();  // one byte per statement: the order of reads is fixed
    len |= byte() << 8;
    unsigned nlen = byte();
    nlen |= byte() << 8;
    if ((len ^ 0xFFFF) != nlen) throw std::runtime_error("stored block LEN/NLEN");
    for (unsigned i = 0; i < len; ++i) out.push_back(static_cast<std::uint8_t>(byte()));
  }
  unsigned fixed_symbol() {
    unsigned c = 0;
    for (int i = 0; i < 7; ++i) c = c << 1 | code_bit();
    if (c <= 0x17) return 256 + c;  // 7 bits: 0000000-0010111
    c = c << 1 | code_bit();
    if (c >= 0x30 && c <= 0xBF) return c - 0x30;  // 8 bits: literals 0-143
    if (c >= 0xC0 && c <= 0xC7) return 280 + (c - 0xC0);
    c = c << 1 | code_bit();
    if (c >= 0x190 && c <= 0x1FF) return 144 + (c - 0x190);  // 9 bits: literals 144-255
    throw std::runtime_error("invalid fixed code");
  }
  void fixed(Bytes& out) {
    static constexpr unsigned lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                           31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static constexpr unsigned dbase[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                           33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                           1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    for (;;) {
      const unsigned s = fixed_symbol();
      if (s < 256) {
        out.push_back(static_cast<std::uint8_t>(s));
        continue;
      }
      if (s == 256) return;
      const unsigned l = s - 257;
      if (l >= 29) throw std::runtime_error("invalid length symbol");
      const int lextra = (l < 8 || l == 28) ? 0 : static_cast<int>(l / 4 - 1);
      const unsigned len = lbase[l] + bits(lextra);
      unsigned d = 0;
      for (int i = 0; i < 5; ++i) d = d << 1 | code_bit();
      if (d >= 30) throw std::runtime_error("invalid distance symbol");
      const int dextra = d < 4 ? 0 : static_cast<int>(d / 2 - 1);
      const unsigned dist = dbase[d] + bits(dextra);
      if (dist > out.size() || dist > 32768) throw std::runtime_error("distance beyond the window");
      for (unsigned i = 0; i < len; ++i) out.push_back(out[out.size() - dist]);
    }
  }

  const Bytes& in_;
  std::size_t pos_ = 0;
  int bit_ = 0;
  unsigned cur_ = 0;
};

Bytes inflate(const Bytes& z) { return Inflater(z).zlib(); }

struct Decoded {
  int width = 0, height = 0;
  std::vector<std::string> chunks;
  Bytes rgb;
};

/// Reads a PNG written by encode_png: checks signature, chunk order and every CRC, then inflates and unfilters.
Decoded decode_png(const Bytes& f) {
  const Bytes sig = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  REQUIRE(f.size() > sig.size());
  REQUIRE(Bytes(f.begin(), f.begin() + 8) == sig);
  Decoded d;
  Bytes idat;
  std::size_t at = 8;
  while (at < f.size()) {
    const std::uint32_t len = be32(f, at);
    REQUIRE(at + 12 + len <= f.size());
    const std::string type(f.begin() + static_cast<long>(at) + 4, f.begin() + static_cast<long>(at) + 8);
    const Bytes body(f.begin() + static_cast<long>(at) + 8, f.begin() + static_cast<long>(at + 8 + len));
    CHECK(be32(f, at + 8 + len) == crc32(std::span<const std::uint8_t>(f).subspan(at + 4, 4 + len)));
    d.chunks.push_back(type);
    if (type == "IHDR") {
      REQUIRE(len == 13);
      d.width = static_cast<int>(be32(body, 0));
      d.height = static_cast<int>(be32(body, 4));
      CHECK(body[8] == 8);   // bit depth
      CHECK(body[9] == 2);   // RGB
      CHECK(body[10] == 0);  // deflate
      CHECK(body[11] == 0);  // filter set 0
      CHECK(body[12] == 0);  // no interlace
    } else if (type == "IDAT") {
      idat.insert(idat.end(), body.begin(), body.end());
    } else if (type == "IEND") {
      CHECK(len == 0);
    }
    at += 12 + len;
  }
  const Bytes raw = inflate(idat);
  const std::size_t row = static_cast<std::size_t>(d.width) * 3;
  REQUIRE(raw.size() == (row + 1) * static_cast<std::size_t>(d.height));
  for (int y = 0; y < d.height; ++y) {
    const auto* p = raw.data() + static_cast<std::size_t>(y) * (row + 1);
    REQUIRE(p[0] == 0);  // filter type none
    d.rgb.insert(d.rgb.end(), p + 1, p + 1 + row);
  }
  return d;
}

Bytes lcg_bytes(std::size_t n, std::uint32_t seed) {
  Bytes b(n);
  for (auto& x : b) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<std::uint8_t>(seed >> 24);
  }
  return b;
}

/// Pixels of colour `c`, as (x, y) pairs.
std::vector<std::pair<int, int>> pixels_of(const Image& img, Color c) {
  std::vector<std::pair<int, int>> out;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (img.at(x, y) == c) out.emplace_back(x, y);
  return out;
}

/// The median row of the pixels in columns [x0, x1) (a median, so that a legend swatch cannot move it).
int median_y_in_columns(const std::vector<std::pair<int, int>>& px, int x0, int x1) {
  std::vector<int> ys;
  for (auto [x, y] : px)
    if (x >= x0 && x < x1) ys.push_back(y);
  REQUIRE(!ys.empty());
  std::nth_element(ys.begin(), ys.begin() + static_cast<long>(ys.size() / 2), ys.end());
  return ys[ys.size() / 2];
}

constexpr Color kRed{200, 0, 0};

}  // namespace

TEST_CASE("crc32 and adler32 give the standard check values", "[png]") {
  CHECK(crc32(bytes("123456789")) == 0xCBF43926u);
  CHECK(crc32(bytes("")) == 0u);
  CHECK(crc32(bytes("The quick brown fox jumps over the lazy dog")) == 0x414FA339u);
  CHECK(crc32(bytes("6789"), crc32(bytes("12345"))) == 0xCBF43926u);  // continued over a split

  CHECK(adler32(bytes("Wikipedia")) == 0x11E60398u);
  CHECK(adler32(bytes("")) == 1u);
  CHECK(adler32(bytes("pedia"), adler32(bytes("Wiki"))) == 0x11E60398u);
  // Past the 5552-byte block where the sums are reduced: 100000 bytes of 0xFF, against the definition.
  const Bytes ff(100000, 0xFF);
  std::uint64_t a = 1, b = 0;
  for (auto x : ff) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  CHECK(adler32(ff) == static_cast<std::uint32_t>(b << 16 | a));
}

TEST_CASE("the test inflater decodes streams made by zlib", "[png]") {
  // python3: zlib.compress(b'held-out loss, held-out accuracy, held-out loss!', 9) (a fixed-Huffman block) and
  // zlib.compress(b'stored block', 0) (a stored block).
  const Bytes fixed = {0x78, 0xDA, 0xCB, 0x48, 0xCD, 0x49, 0xD1, 0xCD, 0x2F, 0x2D, 0x51, 0xC8, 0xC9,
                       0x2F, 0x2E, 0xD6, 0x51, 0xC8, 0x80, 0x71, 0x13, 0x93, 0x93, 0x4B, 0x8B, 0x12,
                       0x93, 0x2B, 0x91, 0x84, 0x40, 0x2A, 0x14, 0x01, 0xAB, 0x2E, 0x11, 0x4D};
  const Bytes stored = {0x78, 0x01, 0x01, 0x0C, 0x00, 0xF3, 0xFF, 0x73, 0x74, 0x6F, 0x72, 0x65,
                        0x64, 0x20, 0x62, 0x6C, 0x6F, 0x63, 0x6B, 0x1F, 0x80, 0x04, 0xBD};
  CHECK(inflate(fixed) == bytes("held-out loss, held-out accuracy, held-out loss!"));
  CHECK(inflate(stored) == bytes("stored block"));
  Bytes corrupt = fixed;
  corrupt.back() ^= 1;
  CHECK_THROWS(inflate(corrupt));
}

TEST_CASE("zlib_compress round-trips and compresses repetition", "[png]") {
  const Bytes random = lcg_bytes(70000, 7);
  Bytes far;  // a 40000-byte block twice: its repeat lies beyond the 32 KiB window
  far.insert(far.end(), random.begin(), random.begin() + 40000);
  far.insert(far.end(), random.begin(), random.begin() + 40000);
  Bytes edge;  // a repeat at exactly the largest distance, 32768
  edge.insert(edge.end(), random.begin(), random.begin() + 32768);
  edge.insert(edge.end(), random.begin(), random.begin() + 1000);
  Bytes lengths;  // runs whose lengths straddle the length codes' bases, and the 258 maximum
  for (int len : {3, 4, 10, 11, 12, 18, 19, 34, 35, 130, 131, 257, 258, 259, 516, 517})
    lengths.insert(lengths.end(), static_cast<std::size_t>(len), static_cast<std::uint8_t>(len));
  const std::vector<Bytes> inputs = {
      {},   {0x00},  {0xFF},           bytes("ab"),      bytes("abcabcabcabcabcabc"), random, far,
      edge, lengths, Bytes(100000, 0), lcg_bytes(300, 1)};
  for (const auto& in : inputs) {
    INFO("input of " << in.size() << " bytes");
    const auto z = zlib_compress(in);
    CHECK(inflate(z) == in);
  }
  CHECK(zlib_compress(Bytes(100000, 0)).size() < 1000);  // about 3.5 bits per 258-byte match
  CHECK(zlib_compress(far).size() < 2 * zlib_compress(Bytes(random.begin(), random.begin() + 40000)).size() + 16);
  CHECK(zlib_compress(edge).size() < zlib_compress(Bytes(edge.begin(), edge.begin() + 32768)).size() + 100);
}

TEST_CASE("a PNG holds the chunks and gives back exactly the pixels", "[png]") {
  Image img(37, 23);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      img.set(x, y,
              {static_cast<std::uint8_t>(7 * x), static_cast<std::uint8_t>(11 * y),
               static_cast<std::uint8_t>((x * y) % 256)});
  img.set(-1, 0, kRed);  // outside: ignored
  img.set(37, 5, kRed);
  CHECK(img.at(36, 22) == Color{252, 242, 24});
  CHECK_THROWS_AS(img.at(37, 0), std::out_of_range);

  const auto dir = temp_dir();
  const auto path = dir / "pattern.png";
  write_png(path, img);
  const Bytes file = read_file(path);
  CHECK(file == encode_png(img));
  CHECK_FALSE(fs::exists(dir / ("pattern.png.tmp." + std::to_string(::getpid()))));
  const auto d = decode_png(file);
  CHECK(d.chunks == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  CHECK(d.width == 37);
  CHECK(d.height == 23);
  CHECK(d.rgb == img.rgb);

  // A large noisy image spans several IDAT chunks (at most 1 MiB each) and still decodes exactly.
  Image noise(700, 600);
  noise.rgb = lcg_bytes(noise.rgb.size(), 3);
  const auto dn = decode_png(encode_png(noise));
  CHECK(dn.chunks.size() >= 4);
  CHECK(dn.chunks.front() == "IHDR");
  CHECK(dn.chunks.back() == "IEND");
  CHECK(dn.rgb == noise.rgb);

  CHECK_THROWS_AS(encode_png(Image{}), std::invalid_argument);
  Image torn(4, 4);
  torn.rgb.pop_back();
  CHECK_THROWS_AS(encode_png(torn), std::invalid_argument);
  CHECK_THROWS_AS(Image(-1, 3), std::invalid_argument);
  fs::remove_all(dir);
}

TEST_CASE("ticks step by 1, 2 or 5 times a power of ten", "[png][plot]") {
  CHECK(nice_step(1.0, 5) == Approx(0.2));
  CHECK(nice_step(870, 5) == Approx(200));
  CHECK(nice_step(10, 5) == Approx(2));
  CHECK(nice_step(0.0003, 5) == Approx(0.0001));
  auto near = [](const std::vector<double>& got, const std::vector<double>& want) {
    if (got.size() != want.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i)
      if (std::abs(got[i] - want[i]) > 1e-12 * std::max(1.0, std::abs(want[i]))) return false;
    return true;
  };
  CHECK(near(nice_ticks(0, 1), {0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  CHECK(near(nice_ticks(0.13, 0.87), {0.2, 0.4, 0.6, 0.8}));
  CHECK(near(nice_ticks(-3, 7), {-2, 0, 2, 4, 6}));
  CHECK(near(nice_ticks(0, 5000), {0, 1000, 2000, 3000, 4000, 5000}));
  CHECK(near(nice_ticks(47.5, 52.5), {48, 49, 50, 51, 52}));
  CHECK(nice_ticks(1, 1).empty());
  CHECK(nice_ticks(0, std::numeric_limits<double>::quiet_NaN()).empty());
  CHECK(nice_ticks(-0.3, 0.3)[1] == 0.0);  // zero is exact, not 1e-17

  // Over many spans: every step is 1, 2 or 5 times a power of ten, and 2..6 ticks land inside the range.
  for (int i = 0; i < 2000; ++i) {
    const double lo = std::sin(i * 1.3) * std::pow(10.0, i % 9 - 4);
    const double span = (1.1 + std::cos(i * 0.7)) * std::pow(10.0, (i * 7) % 11 - 5);
    const auto t = nice_ticks(lo, lo + span, 5);
    INFO("lo " << lo << " span " << span);
    REQUIRE(t.size() >= 2);
    REQUIRE(t.size() <= 6);
    CHECK(t.front() >= lo - 1e-9 * span);
    CHECK(t.back() <= lo + span + 1e-9 * span);
    const double step = nice_step(span, 5);
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    CHECK((std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 || std::abs(mantissa - 5) < 1e-9));
    for (std::size_t k = 1; k < t.size(); ++k) CHECK(t[k] - t[k - 1] == Approx(step).epsilon(1e-6));
  }

  CHECK(format_tick(0.2, 0.2) == "0.2");
  CHECK(format_tick(0.1 + 0.2, 0.1) == "0.3");
  CHECK(format_tick(0.05, 0.05) == "0.05");
  CHECK(format_tick(1500, 500) == "1500");
  CHECK(format_tick(-1e-18, 0.2) == "0.0");  // never "-0.0"
  CHECK(format_tick(3e8, 1e8) == "3e+08");
}

TEST_CASE("the built-in font covers printable ASCII within its 5x9 cell", "[png][plot]") {
  for (int c = 33; c <= 126; ++c) {
    INFO("character " << c);
    const auto* g = detail::glyph(static_cast<char>(c));
    int ink = 0;
    for (int r = 0; r < detail::kGlyphRows; ++r) {
      CHECK(g[r] < 32);  // 5 columns
      ink += g[r] != 0;
    }
    CHECK(ink > 0);
  }
  Image img(20, 12);
  detail::draw_text(img, 1, 1, "T", kRed, 1);  // T: a full top row, then the middle column
  for (int x = 1; x <= 5; ++x) CHECK(img.at(x, 1) == kRed);
  for (int y = 2; y <= 7; ++y) CHECK(img.at(3, y) == kRed);
  CHECK(img.at(2, 3) == Color{255, 255, 255});
  CHECK(detail::text_width("abc", 2) == 34);
}

TEST_CASE("a rendered plot puts the series' pixels where the data says", "[png][plot]") {
  Panel rising{"rising", "step", "value", {{"", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, kRed}}};
  const Image img = render(std::span<const Panel>(&rising, 1), 600, 400);
  CHECK(img.width == 600);
  CHECK(img.height == 400);
  const auto px = pixels_of(img, kRed);
  REQUIRE(!px.empty());
  int xmin = img.width, xmax = 0;
  for (auto [x, y] : px) {
    xmin = std::min(xmin, x);
    xmax = std::max(xmax, x);
  }
  CHECK(xmin < 150);  // the line spans most of the plot's width
  CHECK(xmax > 500);
  CHECK(median_y_in_columns(px, xmin, xmin + 10) > median_y_in_columns(px, xmax - 9, xmax + 1) + 200);  // rises

  // A falling line is the mirror image.
  Panel falling = rising;
  falling.series[0].y = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
  const auto pf = pixels_of(render(std::span<const Panel>(&falling, 1), 600, 400), kRed);
  CHECK(median_y_in_columns(pf, xmin, xmin + 10) + 200 < median_y_in_columns(pf, xmax - 9, xmax + 1));

  // A constant series is a horizontal band (line and markers) in the middle of the padded range.
  Panel flat{"flat", "", "", {{"", {0, 1, 2, 3}, {0.5, 0.5, 0.5, 0.5}, kRed}}};
  const auto pc = pixels_of(render(std::span<const Panel>(&flat, 1), 600, 400), kRed);
  REQUIRE(!pc.empty());
  int ymin = 400, ymax = 0;
  for (auto [x, y] : pc) {
    ymin = std::min(ymin, y);
    ymax = std::max(ymax, y);
  }
  CHECK(ymax - ymin <= 8);
  CHECK(ymin > 120);
  CHECK(ymax < 320);
}

TEST_CASE("plots survive single points, NaN and empty series", "[png][plot]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Panel> panels = {
      {"one point", "", "", {{"", {100}, {0.5}, kRed}}},
      {"gaps", "", "", {{"", {0, 1, 2, 3}, {0, nan, inf, 3}, kRed}}},
      {"nothing", "", "", {{"empty", {}, {}, kRed}, {"nan", {1, 2}, {nan, nan}, kRed}}},
  };
  const Image img = render(panels, 900, 300, "edge cases");
  const auto px = pixels_of(img, kRed);
  auto in_panel = [&](int p) {
    int n = 0;
    for (auto [x, y] : px) n += x >= p * 300 && x < (p + 1) * 300 && y > 40;  // below the titles
    return n;
  };
  CHECK(in_panel(0) > 10);   // a marker
  CHECK(in_panel(1) > 100);  // a line joining (0, 0) to (3, 3) across the skipped points
  CHECK(in_panel(2) > 0);    // only the legend's swatches: no data to draw
  CHECK(in_panel(2) < 200);

  CHECK(render(std::span<const Panel>{}, 300, 200).rgb == Image(300, 200).rgb);  // no panels: blank

  Panel bad{"bad", "", "", {{"torn", {0, 1, 2}, {0, 1}, kRed}}};
  CHECK_THROWS_WITH(render(std::span<const Panel>(&bad, 1)), Catch::Contains("'torn'"));
  CHECK_THROWS_AS(render(panels, 300, 300), std::invalid_argument);  // 100 px per panel is too narrow
  CHECK_THROWS_AS(render(panels, 900, 50), std::invalid_argument);
}

TEST_CASE("the legend goes where the data is not", "[png][plot]") {
  const Color box{190, 190, 190};  // the legend's frame
  // A line rising from bottom left to top right leaves the other two corners free.
  Panel rising{"", "", "", {{"rising", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, kRed}}};
  const auto frame_px = pixels_of(render(std::span<const Panel>(&rising, 1), 600, 400), box);
  REQUIRE(!frame_px.empty());
  double cx = 0, cy = 0;
  for (auto [x, y] : frame_px) {
    cx += x;
    cy += y;
  }
  cx /= static_cast<double>(frame_px.size());
  cy /= static_cast<double>(frame_px.size());
  CHECK(((cx < 300 && cy < 200) || (cx > 300 && cy > 200)));
}

TEST_CASE("plot_training_curves writes the two panels to a PNG", "[png][plot]") {
  std::vector<double> steps, loss, acc;
  for (int i = 0; i <= 10; ++i) {
    steps.push_back(100.0 * i);
    loss.push_back(0.7 - 0.03 * i);
    acc.push_back(0.5 + 0.03 * i);
  }
  const auto dir = temp_dir();
  const auto path = dir / "curves.png";
  plot_training_curves(path, steps, loss, acc, "test run", 0.52, 0.69);
  const auto d = decode_png(read_file(path));
  CHECK(d.width == 1000);
  CHECK(d.height == 420);
  Image img(d.width, d.height);
  img.rgb = d.rgb;
  const auto blue = pixels_of(img, {31, 119, 180}), green = pixels_of(img, {44, 160, 44}),
             grey = pixels_of(img, {120, 120, 120});
  REQUIRE(!blue.empty());
  REQUIRE(!green.empty());
  CHECK(!grey.empty());
  for (auto [x, y] : blue) CHECK(x < 500);    // loss on the left
  for (auto [x, y] : green) CHECK(x >= 500);  // accuracy on the right
  // The loss falls and the accuracy rises.
  CHECK(median_y_in_columns(blue, 0, 150) < median_y_in_columns(blue, 350, 500));
  CHECK(median_y_in_columns(green, 500, 650) > median_y_in_columns(green, 850, 1000));

  plot_training_curves(path, {}, {}, {}, "before any evaluation", 0.5);  // a baseline alone still plots
  CHECK(decode_png(read_file(path)).width == 1000);
  CHECK_THROWS_WITH(plot_training_curves(path, steps, std::span<const double>(loss).first(3), acc),
                    Catch::Contains("'loss'"));
  CHECK_THROWS_WITH(plot_training_curves(path, steps, loss, std::span<const double>(acc).first(3)),
                    Catch::Contains("'accuracy'"));
  fs::remove_all(dir);
}
