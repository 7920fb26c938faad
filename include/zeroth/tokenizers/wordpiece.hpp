#pragma once
// WordPiece, as Hugging Face tokenizers' models/wordpiece: greedy longest-match-first subwords of one word, with a
// continuing-subword prefix, and the vocabulary file (vocab.txt) it is read from.
#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../data/detail/text_file.hpp"
#include "detail/token_table.hpp"
#include "detail/unicode.hpp"
#include "detail/utf8.hpp"

namespace zeroth::tokenizers {

/// WordPiece's options, with HF's names and defaults.
struct WordPieceOptions {
  std::string unk_token = "[UNK]";               ///< Stands for a word that cannot be split, or is too long.
  std::string continuing_subword_prefix = "##";  ///< Marks a subword that continues a word.
  std::size_t max_input_chars_per_word = 100;    ///< Longer words (in characters, not bytes) become unk_token.
};

/// Reads a WordPiece vocabulary file: one token per line, its id the line's index (from 0). Accepts LF or CRLF, a
/// UTF-8 byte-order mark and a missing final newline, and drops trailing whitespace from each line as HF does; throws
/// std::runtime_error "zeroth: <file>:<line>: <problem>" for an empty file, an empty token, invalid UTF-8 or a token
/// that appears twice.
inline std::vector<std::string> read_vocab(const std::filesystem::path& path) {
  const auto file = data::detail::read_lines(path);
  if (file.lines.empty()) data::detail::fail(path, 0, "is empty: a vocabulary needs one token per line");
  std::vector<std::string> tokens;
  tokens.reserve(file.lines.size());
  std::unordered_map<std::string_view, std::size_t> first_line;
  first_line.reserve(file.lines.size());
  std::u32string chars;
  for (const auto& line : file.lines) {
    chars.clear();
    if (const std::size_t bad = detail::decode_utf8(line.text, &chars); bad != std::string_view::npos)
      data::detail::fail(path, line.number, "is not valid UTF-8 (at byte " + std::to_string(bad + 1) + " of the line)");
    std::size_t n = chars.size();
    while (n > 0 && detail::is_whitespace(chars[n - 1])) --n;  // Rust's str::trim_end, as HF's WordPiece::read_file
    if (n == 0) data::detail::fail(path, line.number, "is an empty token");
    tokens.push_back(detail::u32_to_utf8(std::u32string_view(chars).substr(0, n)));
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto [it, fresh] = first_line.emplace(tokens[i], file.lines[i].number);
    if (!fresh)
      data::detail::fail(
          path, file.lines[i].number,
          "repeats the token " + data::detail::quote(tokens[i]) + " of line " + std::to_string(it->second));
  }
  return tokens;
}

/// A WordPiece model: a vocabulary (token -> id) and the greedy longest-match-first split of a word into its
/// tokens, e.g. with "un", "##aff", "##able" in the vocabulary `tokenize("unaffable")` gives their ids.
class WordPiece {
 public:
  /// The model with `tokens[i]` as id i; throws std::invalid_argument for a token listed twice, or no unk_token.
  explicit WordPiece(std::vector<std::string> tokens, WordPieceOptions options = {})
      : tokens_(std::move(tokens)), options_(std::move(options)) {
    std::size_t duplicate = 0;
    ids_ = detail::TokenTable(tokens_, &duplicate);
    if (duplicate != 0)
      throw std::invalid_argument(
          "zeroth: the WordPiece vocabulary has the token " + data::detail::quote(tokens_[duplicate]) + " twice (ids " +
          std::to_string(ids_.find(tokens_[duplicate])) + " and " + std::to_string(duplicate) + ")");
    const std::string& prefix = options_.continuing_subword_prefix;
    for (const std::string& t : tokens_) {
      max_first_bytes_ = std::max(max_first_bytes_, t.size());
      if (t.size() > prefix.size() && t.starts_with(prefix))
        max_continuing_bytes_ = std::max(max_continuing_bytes_, t.size() - prefix.size());
    }
    unk_id_ = token_to_id(options_.unk_token);
    if (unk_id_ < 0)
      throw std::invalid_argument("zeroth: the WordPiece vocabulary has no unk_token " +
                                  data::detail::quote(options_.unk_token));
  }

  /// The model of the vocabulary file `path` (see read_vocab); throws std::runtime_error naming the file when it
  /// has no unk_token.
  static WordPiece from_file(const std::filesystem::path& path, WordPieceOptions options = {}) {
    auto tokens = read_vocab(path);
    if (std::find(tokens.begin(), tokens.end(), options.unk_token) == tokens.end())
      data::detail::fail(path, 0, "has no " + data::detail::quote(options.unk_token) + " token (the unk_token)");
    return WordPiece(std::move(tokens), std::move(options));
  }

  /// Appends the ids of `word` (valid UTF-8 of `chars` characters, no whitespace) to `ids`: greedy longest prefix in
  /// the vocabulary, then the longest continuing subword, and so on; the unk_token alone if some part of the word
  /// matches nothing or the word is longer than max_input_chars_per_word. `scratch` is working space.
  void tokenize_utf8(std::string_view word, std::size_t chars, std::vector<int>& ids, std::string& scratch) const {
    if (word.empty()) return;
    if (chars > options_.max_input_chars_per_word) {
      ids.push_back(unk_id_);
      return;
    }
    if (const int id = token_to_id(word); id >= 0) {  // the whole word: the first candidate, and the common case
      ids.push_back(id);
      return;
    }
    const std::size_t rollback = ids.size();
    const std::string& prefix = options_.continuing_subword_prefix;
    std::size_t start = 0;
    while (start < word.size()) {
      // Candidates no longer than the longest token; `key` is the candidate with the prefix when start > 0.
      std::string_view rest = word.substr(start);
      std::string_view key_base = rest;
      std::size_t key_offset = 0;
      if (start > 0) {
        scratch.assign(prefix);
        scratch.append(rest);
        key_base = scratch;
        key_offset = prefix.size();
      }
      std::size_t end = std::min(rest.size(), start == 0 ? max_first_bytes_ : max_continuing_bytes_);
      while (end < rest.size() && (static_cast<unsigned char>(rest[end]) & 0xC0) == 0x80) --end;
      int found = -1;
      while (end > 0) {
        if ((found = token_to_id(key_base.substr(0, key_offset + end))) >= 0) break;
        do --end;
        while (end > 0 && (static_cast<unsigned char>(rest[end]) & 0xC0) == 0x80);
      }
      if (found < 0) {
        ids.resize(rollback);
        ids.push_back(unk_id_);
        return;
      }
      ids.push_back(found);
      start += end;
    }
  }

  /// The ids of `word` (UTF-8); throws std::invalid_argument if it is not valid UTF-8.
  std::vector<int> tokenize(std::string_view word) const {
    const std::size_t chars = detail::utf8_to_u32(word, "the word").size();
    std::vector<int> ids;
    std::string scratch;
    tokenize_utf8(word, chars, ids, scratch);
    return ids;
  }

  /// The id of `token`, or -1 when it is not in the vocabulary.
  int token_to_id(std::string_view token) const { return ids_.find(token); }

  /// The token of `id`; throws std::out_of_range when there is none.
  std::string_view id_to_token(int id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size())
      throw std::out_of_range("zeroth: token id " + std::to_string(id) + " is not in the vocabulary of " +
                              std::to_string(tokens_.size()) + " tokens");
    return tokens_[static_cast<std::size_t>(id)];
  }

  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  int unk_id() const { return unk_id_; }
  const WordPieceOptions& options() const { return options_; }

 private:
  std::vector<std::string> tokens_;
  detail::TokenTable ids_;
  WordPieceOptions options_;
  int unk_id_ = -1;
  std::size_t max_first_bytes_ = 0;       // the longest token
  std::size_t max_continuing_bytes_ = 0;  // the longest token after the continuing-subword prefix
};

}  // namespace zeroth::tokenizers
