#pragma once
// Internal: the character properties and mappings that BERT's normalizer and pre-tokenizer use, looked up in the
// generated tables (binary search; ASCII answered first).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>

#include "unicode_tables.hpp"

namespace zeroth::tokenizers::detail {

namespace tables = unicode_tables;

inline constexpr std::uint64_t low21 = (std::uint64_t{1} << 21) - 1;

/// The table entry `e` with the greatest low-21-bit key <= `cp`, or nullptr.
template <std::size_t N>
inline const std::uint64_t* floor_entry(const std::uint64_t (&table)[N], char32_t cp) {
  const auto* it = std::upper_bound(std::begin(table), std::end(table), static_cast<std::uint64_t>(cp),
                                    [](std::uint64_t key, std::uint64_t e) { return key < (e & low21); });
  return it == std::begin(table) ? nullptr : it - 1;
}

/// The value bits (from bit 42) of the run in a first | last << 21 | value << 42 table that holds `cp`, or 0.
template <std::size_t N>
inline unsigned run_value(const std::uint64_t (&table)[N], char32_t cp) {
  const std::uint64_t* e = floor_entry(table, cp);
  if (!e || cp > (*e >> 21 & low21)) return 0;
  return static_cast<unsigned>(*e >> 42);
}

/// The class flags of `cp` (tables::other, mark_nonspacing, punctuation, whitespace).
inline unsigned char_class(char32_t cp) {
  return cp < 0x80 ? tables::ascii_classes[cp] : run_value(tables::classes, cp);
}

/// HF's BertNormalizer is_control: category Cc, Cf or Co (of Unicode 8.0), except tab, newline and carriage return.
inline bool is_control(char32_t cp) {
  return cp != U'\t' && cp != U'\n' && cp != U'\r' && (char_class(cp) & tables::other) != 0;
}

/// Rust's char::is_whitespace (the White_Space property).
inline bool is_whitespace(char32_t cp) { return (char_class(cp) & tables::whitespace) != 0; }

/// HF's is_bert_punc: ASCII punctuation or General_Category P* (of Unicode 8.0).
inline bool is_punctuation(char32_t cp) { return (char_class(cp) & tables::punctuation) != 0; }

/// General_Category Mn (of Unicode 8.0).
inline bool is_mark_nonspacing(char32_t cp) { return (char_class(cp) & tables::mark_nonspacing) != 0; }

/// HF's BertNormalizer is_chinese_char: the CJK Unified Ideographs blocks it lists (not the later extensions).
inline bool is_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/// Canonical_Combining_Class of `cp`.
inline unsigned combining_class(char32_t cp) { return cp < 0x300 ? 0 : run_value(tables::combining_classes, cp); }

/// Appends the full canonical decomposition of `cp` (Hangul syllables algorithmically), not yet canonically ordered.
inline void append_decomposition(char32_t cp, std::u32string& out) {
  constexpr char32_t s_base = 0xAC00, l_base = 0x1100, v_base = 0x1161, t_base = 0x11A7;
  constexpr char32_t t_count = 28, n_count = 21 * 28, s_count = 19 * 21 * 28;
  if (cp < 0xC0) {
    out.push_back(cp);
    return;
  }
  if (cp >= s_base && cp < s_base + s_count) {
    const char32_t s = cp - s_base;
    out.push_back(l_base + s / n_count);
    out.push_back(v_base + s % n_count / t_count);
    if (s % t_count != 0) out.push_back(t_base + s % t_count);
    return;
  }
  const std::uint64_t* e = floor_entry(tables::decompositions, cp);
  if (!e || (*e & low21) != cp) {
    out.push_back(cp);
    return;
  }
  append_decomposition(static_cast<char32_t>(*e >> 21 & low21), out);
  if (const auto second = static_cast<char32_t>(*e >> 42 & low21); second != 0) append_decomposition(second, out);
}

/// Puts each run of non-starters of `s` from `begin` on into canonical order (a stable sort by combining class).
inline void canonical_order(std::u32string& s, std::size_t begin = 0) {
  std::size_t i = begin;
  while (i < s.size()) {
    if (combining_class(s[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < s.size() && combining_class(s[j]) != 0) ++j;
    if (j - i > 1)
      std::stable_sort(s.begin() + static_cast<std::ptrdiff_t>(i), s.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
}

/// Appends Rust's char::to_lowercase of `cp` (one code point, or U+0069 U+0307 for U+0130).
inline void append_lowercase(char32_t cp, std::u32string& out) {
  if (cp < 0x80) {
    out.push_back(cp >= U'A' && cp <= U'Z' ? cp + 32 : cp);
    return;
  }
  if (cp == 0x130) {
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  const std::uint64_t* e = floor_entry(tables::lowercase, cp);
  if (e && cp <= (*e >> 21 & low21)) {
    const auto first = static_cast<char32_t>(*e & low21);
    const char32_t stride = 1 + static_cast<char32_t>(*e >> 42 & 1);
    if ((cp - first) % stride == 0) {
      auto offset = static_cast<std::int32_t>(*e >> 43 & low21);
      if (offset >= (1 << 20)) offset -= 1 << 21;  // 21-bit two's complement
      out.push_back(static_cast<char32_t>(static_cast<std::int32_t>(cp) + offset));
      return;
    }
  }
  out.push_back(cp);
}

}  // namespace zeroth::tokenizers::detail
