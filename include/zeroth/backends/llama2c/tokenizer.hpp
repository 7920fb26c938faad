#pragma once
// llama2.c's BPE tokenizer (tokenizer.bin format), encoding and decoding exactly as its run.c does.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "byte_reader.hpp"

namespace zeroth::llama2c {

/// A sentencepiece-style BPE vocabulary with merge scores, loaded from llama2.c's tokenizer file.
class Tokenizer {
 public:
  static constexpr int bos = 1;
  static constexpr int eos = 2;

  /// Loads `vocab_size` tokens (the model's vocabulary size) from `path`; throws std::runtime_error naming the file
  /// if it is corrupt or truncated, or if it holds whole tokens of another count (the tokenizer of another model:
  /// the message says how many it holds).
  static Tokenizer load(const std::filesystem::path& path, int vocab_size) {
    const std::string name = path.string();
    auto fail = [&](const std::string& what) { throw std::runtime_error("zeroth: '" + name + "' " + what); };
    if (vocab_size <= eos || vocab_size > (1 << 24))
      fail("cannot be read with the model's vocab_size " + std::to_string(vocab_size) + " (llama2.c needs at least " +
           std::to_string(eos + 1) + " tokens: <unk>, BOS = 1 and EOS = 2)");
    const auto bytes = detail::read_file(path);
    if (const int held = whole_tokens(bytes, name); held >= 0 && held != vocab_size)
      fail("holds " + std::to_string(held) + " tokens, but the model's vocab_size is " + std::to_string(vocab_size) +
           ": it is the tokenizer of another model (pass the one trained with this model as --tokenizer)");
    detail::ByteReader in(bytes, name);
    Tokenizer t;
    t.max_token_length_ = in.read<std::int32_t>("header");
    if (t.max_token_length_ <= 0 || t.max_token_length_ > (1 << 16))
      fail("has a corrupt header: max_token_length = " + std::to_string(t.max_token_length_));
    t.pieces_.reserve(static_cast<std::size_t>(vocab_size));
    t.scores_.reserve(static_cast<std::size_t>(vocab_size));
    for (int i = 0; i < vocab_size; ++i) {
      const std::string what = "token " + std::to_string(i);
      const auto score = in.read<float>(what);
      const auto len = in.read<std::int32_t>(what);
      if (len < 0 || len > t.max_token_length_)
        fail("is corrupt: token " + std::to_string(i) + " has length " + std::to_string(len) +
             " (max_token_length is " + std::to_string(t.max_token_length_) + ")");
      std::string piece(static_cast<std::size_t>(len), '\0');
      in.read_bytes(piece.data(), piece.size(), what);
      t.scores_.push_back(score);
      t.pieces_.push_back(std::move(piece));
    }
    if (in.remaining() != 0)
      fail("has " + std::to_string(in.remaining()) + " unexpected trailing bytes after " + std::to_string(vocab_size) +
           " tokens");
    for (int i = 0; i < vocab_size; ++i) t.ids_.emplace(t.pieces_[static_cast<std::size_t>(i)], i);  // first id wins
    return t;
  }

  int vocab_size() const { return static_cast<int>(pieces_.size()); }

  /// How many whole tokens `bytes` (a tokenizer file) holds, read to its end with nothing left over; -1 when it is
  /// not such a file (a corrupt header or token, a token cut short, or no token at all).
  static int whole_tokens(const std::vector<unsigned char>& bytes, const std::string& name) {
    detail::ByteReader in(bytes, name);
    if (in.remaining() < 4) return -1;
    const auto max_len = in.read<std::int32_t>("header");
    if (max_len <= 0 || max_len > (1 << 16)) return -1;
    int n = 0;
    while (in.remaining() > 0) {
      if (in.remaining() < 8) return -1;
      in.skip(4, "score");
      const auto len = in.read<std::int32_t>("length");
      if (len < 0 || len > max_len || static_cast<std::size_t>(len) > in.remaining()) return -1;
      in.skip(static_cast<std::size_t>(len), "token");
      if (++n > (1 << 24)) return -1;
    }
    return n > 0 ? n : -1;  // a header alone: truncated
  }

  /// The raw vocabulary string of `token`.
  const std::string& piece(int token) const { return pieces_.at(static_cast<std::size_t>(token)); }

  /// The id of the vocabulary entry equal to `text`, or -1.
  int lookup(std::string_view text) const {
    auto it = ids_.find(std::string(text));
    return it == ids_.end() ? -1 : it->second;
  }

  /// Tokenizes `text` like run.c: dummy " " prefix, UTF-8 code points (else bytes + 3), then greedy best-score merges.
  std::vector<int> encode(std::string_view text, bool add_bos, bool add_eos) const {
    return encode(text, add_bos, add_eos, true);
  }

  /// Tokenizes text that continues a prompt (a verbalizer such as " great"): no BOS, no dummy " " prefix.
  std::vector<int> encode_continuation(std::string_view text) const { return encode(text, false, false, false); }

 private:
  std::vector<int> encode(std::string_view text, bool add_bos, bool add_eos, bool dummy_prefix) const {
    std::vector<int> tokens;
    if (add_bos) tokens.push_back(bos);
    if (!text.empty() && dummy_prefix) push_piece(tokens, " ");
    std::string buffer;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if ((c & 0xC0) != 0x80) buffer.clear();  // a new code point starts
      buffer.push_back(static_cast<char>(c));
      const bool next_continues = i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80;
      if (next_continues && buffer.size() < 4) continue;
      push_piece(tokens, buffer);
      buffer.clear();
    }
    std::string pair;
    while (true) {
      float best_score = -1e10f;
      int best_id = -1;
      std::size_t best_index = 0;
      for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
        pair = piece(tokens[i]);
        pair += piece(tokens[i + 1]);
        const int id = lookup(pair);
        if (id != -1 && scores_[static_cast<std::size_t>(id)] > best_score) {
          best_score = scores_[static_cast<std::size_t>(id)];
          best_id = id;
          best_index = i;
        }
      }
      if (best_id == -1) break;
      tokens[best_index] = best_id;
      tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(best_index) + 1);
    }
    if (add_eos) tokens.push_back(eos);
    return tokens;
  }

 public:
  /// The text `token` prints after `prev_token`: leading space dropped after BOS, "<0xNN>" as the raw byte.
  std::string decode_piece(int prev_token, int token) const {
    std::string_view p = piece(token);
    if (prev_token == bos && !p.empty() && p.front() == ' ') p.remove_prefix(1);
    if (const int byte = byte_value(p); byte >= 0) return std::string(1, static_cast<char>(byte));
    return std::string(p);
  }

  /// Concatenated pieces of `tokens` (BOS and EOS omitted), treating the text as if it followed BOS.
  std::string decode(const std::vector<int>& tokens) const {
    std::string out;
    int prev = bos;
    for (int token : tokens) {
      if (token != bos && token != eos) out += decode_piece(prev, token);
      prev = token;
    }
    return out;
  }

 private:
  // Appends the id of `text`, or its bytes + 3 (llama2.c's byte-fallback ids) when it is not in the vocabulary.
  void push_piece(std::vector<int>& tokens, std::string_view text) const {
    if (const int id = lookup(text); id != -1) {
      tokens.push_back(id);
      return;
    }
    for (char c : text) {
      const int id = static_cast<unsigned char>(c) + 3;
      if (id >= vocab_size()) throw std::runtime_error("zeroth: vocabulary has no byte-fallback token for this text");
      tokens.push_back(id);
    }
  }

  // 0..255 for a piece spelled "<0xNN>", else -1.
  static int byte_value(std::string_view p) {
    if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = hex(p[3]), lo = hex(p[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }

  int max_token_length_ = 0;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int> ids_;
};

}  // namespace zeroth::llama2c
