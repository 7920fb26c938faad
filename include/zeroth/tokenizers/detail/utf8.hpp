#pragma once
// Internal: strict UTF-8 decoding (the byte offset of the first invalid sequence) and encoding.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace zeroth::tokenizers::detail {

/// The offset of the first byte of `s` that does not start a well-formed UTF-8 sequence (overlong forms,
/// surrogates, code points above U+10FFFF and truncated sequences are ill-formed), or npos. Decodes into `out` when
/// given, as it goes.
inline std::size_t decode_utf8(std::string_view s, std::u32string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned b0 = p[i];
    if (b0 < 0x80) {
      if (out) out->push_back(b0);
      ++i;
      continue;
    }
    std::size_t len;
    char32_t cp;
    unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte (Unicode Table 3-7)
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3, cp = b0 & 0x0F;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4, cp = b0 & 0x07;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = cp << 6 | (p[i + k] & 0x3F);
    }
    if (out) out->push_back(cp);
    i += len;
  }
  return std::string_view::npos;
}

/// `s` decoded; throws std::invalid_argument naming the byte offset where it stops being valid UTF-8.
inline std::u32string utf8_to_u32(std::string_view s, std::string_view what = "text") {
  std::u32string out;
  out.reserve(s.size());
  if (const std::size_t bad = decode_utf8(s, &out); bad != std::string_view::npos)
    throw std::invalid_argument("zeroth: " + std::string(what) + " is not valid UTF-8 (at byte offset " +
                                std::to_string(bad) + ")");
  return out;
}

/// Appends the UTF-8 form of `cp` (a Unicode scalar value) to `out`.
inline void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | cp >> 6));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | cp >> 12));
    out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | cp >> 18));
    out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

/// The UTF-8 form of `s`.
inline std::string u32_to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(c, out);
  return out;
}

}  // namespace zeroth::tokenizers::detail
