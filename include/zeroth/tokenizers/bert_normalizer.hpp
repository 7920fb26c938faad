#pragma once
// BertNormalizer, as Hugging Face tokenizers' normalizers/bert.rs: clean text, pad CJK ideographs, strip accents,
// lowercase, in that order.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "detail/unicode.hpp"
#include "detail/utf8.hpp"

namespace zeroth::tokenizers {

/// The first stage of a BERT tokenizer; an aggregate of HF's four options, e.g.
/// `BertNormalizer{.strip_accents = false}.normalize_str("Café")` gives "café".
struct BertNormalizer {
  /// Drop U+0000, U+FFFD and control characters (category Cc, Cf, Co, but not \t \n \r); whitespace becomes ' '.
  bool clean_text = true;
  /// Put a space on each side of every CJK Unified Ideograph, so that each becomes a word of its own.
  bool handle_chinese_chars = true;
  /// NFD, then drop nonspacing marks (category Mn). Unset: the same as `lowercase`, as HF's `strip_accents: null`.
  std::optional<bool> strip_accents = std::nullopt;
  /// Unicode lowercase, one character at a time (Rust's char::to_lowercase: no final-sigma rule).
  bool lowercase = true;

  /// `text` normalized.
  std::u32string normalize(std::u32string_view text) const {
    std::u32string out;
    out.reserve(text.size() + text.size() / 8);
    normalize_into(text, out);
    return out;
  }

  /// Appends `text` normalized to `out` (whose earlier contents are left alone).
  void normalize_into(std::u32string_view text, std::u32string& out) const {
    const bool strip = strip_accents.value_or(lowercase);
    const std::size_t begin = out.size();
    bool needs_ordering = false;  // a non-starter was appended, so canonical ordering may have work to do
    for (char32_t c : text) {
      if (c < 0x80) {  // ASCII: no Chinese characters, decompositions or marks
        if (clean_text) {
          if (c == U'\t' || c == U'\n' || c == U'\r') {
            c = U' ';
          } else if (c < 0x20 || c == 0x7F) {
            continue;
          }
        }
        out.push_back(lowercase && c >= U'A' && c <= U'Z' ? c + 32 : c);
        continue;
      }
      if (clean_text) {
        if (c == 0xFFFD || detail::is_control(c)) continue;
        if (detail::is_whitespace(c)) c = U' ';
      }
      const bool chinese = handle_chinese_chars && detail::is_chinese_char(c);
      if (chinese) out.push_back(U' ');
      if (strip) {
        const std::size_t at = out.size();
        detail::append_decomposition(c, out);
        for (std::size_t i = at; i < out.size() && !needs_ordering; ++i)
          needs_ordering = detail::combining_class(out[i]) != 0;
      } else {
        out.push_back(c);
      }
      if (chinese) out.push_back(U' ');
    }
    if (!strip) {
      if (lowercase) lowercase_from(out, begin);
      return;
    }
    // NFD is decomposition then canonical ordering; only then are the nonspacing marks dropped, and lowercase follows.
    if (needs_ordering) detail::canonical_order(out, begin);
    std::size_t kept = begin;
    bool any_lower = false;
    for (std::size_t i = begin; i < out.size(); ++i) {
      const char32_t c = out[i];
      if (c >= 0x300 && detail::is_mark_nonspacing(c)) continue;
      any_lower |= c >= 0x80 || (c >= U'A' && c <= U'Z');  // decompositions can give ASCII capitals
      out[kept++] = c;
    }
    out.resize(kept);
    if (lowercase && any_lower) lowercase_from(out, begin);
  }

  /// `text` (UTF-8) normalized, as HF's `normalize_str`; throws std::invalid_argument if it is not valid UTF-8.
  std::string normalize_str(std::string_view text) const {
    return detail::u32_to_utf8(normalize(detail::utf8_to_u32(text)));
  }

 private:
  // Lowercases out[begin..] in place (U+0130 grows by one character).
  static void lowercase_from(std::u32string& out, std::size_t begin) {
    std::size_t i = begin;
    while (i < out.size() && out[i] < 0x80) {
      if (out[i] >= U'A' && out[i] <= U'Z') out[i] += 32;
      ++i;
    }
    if (i == out.size()) return;
    std::u32string rest;
    rest.reserve(out.size() - i + 1);
    for (std::size_t k = i; k < out.size(); ++k) detail::append_lowercase(out[k], rest);
    out.replace(i, std::u32string::npos, rest);
  }
};

}  // namespace zeroth::tokenizers
