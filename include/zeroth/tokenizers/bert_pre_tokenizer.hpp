#pragma once
// BertPreTokenizer, as Hugging Face tokenizers' pre_tokenizers/bert.rs: split at whitespace, isolate punctuation.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "detail/unicode.hpp"
#include "detail/utf8.hpp"

namespace zeroth::tokenizers {

/// The second stage of a BERT tokenizer: words are separated by whitespace (Rust's char::is_whitespace, removed),
/// and each punctuation character (ASCII punctuation or category P*) is a word of its own, e.g.
/// `BertPreTokenizer{}.pre_tokenize_str("Hey friend!  How?!")` gives {"Hey", "friend", "!", "How", "?", "!"}.
struct BertPreTokenizer {
  /// Calls `f(std::u32string_view word)` for each word of `text`, in order; the words view into `text`.
  template <class F>
  void for_each_word(std::u32string_view text, F&& f) const {
    std::size_t start = 0;  // of the word being read
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char32_t c = text[i];
      const unsigned cls = detail::char_class(c);
      if ((cls & (detail::tables::whitespace | detail::tables::punctuation)) == 0) continue;
      if (start < i) f(text.substr(start, i - start));
      if ((cls & detail::tables::whitespace) == 0) f(text.substr(i, 1));  // punctuation: a word of its own
      start = i + 1;
    }
    if (start < text.size()) f(text.substr(start));
  }

  /// The words of `text`, viewing into it.
  std::vector<std::u32string_view> pre_tokenize(std::u32string_view text) const {
    std::vector<std::u32string_view> words;
    for_each_word(text, [&](std::u32string_view w) { words.push_back(w); });
    return words;
  }

  /// The words of `text` (UTF-8), as HF's `pre_tokenize_str` without the offsets; throws std::invalid_argument if
  /// it is not valid UTF-8.
  std::vector<std::string> pre_tokenize_str(std::string_view text) const {
    const std::u32string decoded = detail::utf8_to_u32(text);
    std::vector<std::string> words;
    for_each_word(decoded, [&](std::u32string_view w) { words.push_back(detail::u32_to_utf8(w)); });
    return words;
  }
};

}  // namespace zeroth::tokenizers
