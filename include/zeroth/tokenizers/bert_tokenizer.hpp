#pragma once
// BertTokenizer: Hugging Face tokenizers' BERT pipeline, special tokens -> BertNormalizer -> BertPreTokenizer ->
// WordPiece -> "[CLS] A [SEP] (B [SEP])" with longest-first truncation, loaded from a model folder.
#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bert_normalizer.hpp"
#include "bert_pre_tokenizer.hpp"
#include "wordpiece.hpp"

namespace zeroth::tokenizers {

/// The ids a model reads: `ids[i]` is token i, `type_ids[i]` its segment (0 for the first text, 1 for the second).
struct Encoding {
  std::vector<int> ids;
  std::vector<int> type_ids;

  std::size_t size() const { return ids.size(); }
};

/// The special tokens a BERT tokenizer adds or matches besides WordPiece's unk_token.
struct BertSpecialTokens {
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";  ///< Optional: a vocabulary without it has mask_id() -1.
};

/// A BERT WordPiece tokenizer whose ids equal Hugging Face tokenizers' (BertTokenizerFast), e.g.
/// `BertTokenizer::from_folder("all-MiniLM-L6-v2").encode("Hello, world!").ids` is {101, 7592, 1010, 2088, 999, 102}.
/// Special tokens written in the text ("[MASK]", "[SEP]", ...) are matched first, exactly as written, and give
/// their own ids, as HF's added vocabulary does.
class BertTokenizer {
 public:
  /// The tokenizer of these stages; throws std::invalid_argument if the vocabulary lacks [CLS], [SEP] or [PAD].
  explicit BertTokenizer(WordPiece model, BertNormalizer normalizer = {}, BertSpecialTokens special = {})
      : normalizer_(std::move(normalizer)), model_(std::move(model)) {
    auto need = [&](const std::string& token, const char* name) {
      const int id = model_.token_to_id(token);
      if (id < 0)
        throw std::invalid_argument("zeroth: the vocabulary has no " + data::detail::quote(token) + " token (the " +
                                    name + ")");
      return id;
    };
    cls_id_ = need(special.cls_token, "cls_token");
    sep_id_ = need(special.sep_token, "sep_token");
    pad_id_ = need(special.pad_token, "pad_token");
    mask_id_ = model_.token_to_id(special.mask_token);
    for (const std::string* t :
         std::array<const std::string*, 5>{&model_.options().unk_token, &special.sep_token, &special.pad_token,
                                           &special.cls_token, &special.mask_token}) {
      const int id = model_.token_to_id(*t);
      if (!t->empty() && id >= 0 && std::find(special_ids_.begin(), special_ids_.end(), id) == special_ids_.end()) {
        special_texts_.push_back(*t);
        special_ids_.push_back(id);
      }
    }
    for (const std::string& t : special_texts_) special_first_byte_[static_cast<unsigned char>(t[0])] = true;
  }

  /// The tokenizer of the model folder `folder`: vocab.txt and tokenizer_config.json (do_lower_case,
  /// strip_accents, tokenize_chinese_chars, the special tokens; tokenizer_class BertTokenizer or
  /// BertTokenizerFast). Throws std::runtime_error naming the file and what is wrong with it.
  static BertTokenizer from_folder(const std::filesystem::path& folder) {
    const auto config_path = folder / "tokenizer_config.json";
    const auto vocab_path = folder / "vocab.txt";
    auto fail = [&](const std::string& problem) { data::detail::fail(config_path, 0, problem); };
    nlohmann::json config;
    {
      std::ifstream in(config_path, std::ios::binary);
      if (!in) fail("cannot open file");
      std::ostringstream ss;
      ss << in.rdbuf();
      try {
        config = nlohmann::json::parse(ss.str());
      } catch (const nlohmann::json::exception& e) {
        fail(std::string("is not valid JSON: ") + e.what());
      }
    }
    if (!config.is_object()) fail("is not a JSON object");
    auto field = [&](const char* name) -> const nlohmann::json* {
      auto it = config.find(name);
      return it == config.end() || it->is_null() ? nullptr : &*it;
    };
    auto boolean = [&](const char* name, bool fallback) {
      const nlohmann::json* v = field(name);
      if (!v) return fallback;
      if (!v->is_boolean()) fail(std::string("'") + name + "' must be true or false, not " + v->dump());
      return v->get<bool>();
    };
    auto token = [&](const char* name, const char* fallback) {
      const nlohmann::json* v = field(name);
      if (!v) return std::string(fallback);
      if (v->is_string()) return v->get<std::string>();
      if (v->is_object() && v->contains("content") && (*v)["content"].is_string())  // an AddedToken
        return (*v)["content"].get<std::string>();
      fail(std::string("'") + name + "' must be a string or an object with a \"content\" string, not " + v->dump());
      return std::string();
    };
    if (const nlohmann::json* cls = field("tokenizer_class")) {
      const std::string name = cls->is_string() ? cls->get<std::string>() : cls->dump();
      if (name != "BertTokenizer" && name != "BertTokenizerFast")
        fail("has tokenizer_class '" + name +
             "', which this WordPiece tokenizer does not implement (it reads "
             "BertTokenizer and BertTokenizerFast)");
    }
    if (!boolean("do_basic_tokenize", true))
      fail("sets do_basic_tokenize to false, which is not supported (HF's fast tokenizer ignores it too)");
    BertNormalizer normalizer;
    normalizer.lowercase = boolean("do_lower_case", true);
    normalizer.handle_chinese_chars = boolean("tokenize_chinese_chars", true);
    if (field("strip_accents")) normalizer.strip_accents = boolean("strip_accents", true);
    WordPieceOptions options;
    options.unk_token = token("unk_token", "[UNK]");
    BertSpecialTokens special{token("cls_token", "[CLS]"), token("sep_token", "[SEP]"), token("pad_token", "[PAD]"),
                              token("mask_token", "[MASK]")};
    auto tokens = read_vocab(vocab_path);
    for (const auto& [t, name] :
         std::array<std::pair<const std::string*, const char*>, 4>{{{&options.unk_token, "unk_token"},
                                                                    {&special.cls_token, "cls_token"},
                                                                    {&special.sep_token, "sep_token"},
                                                                    {&special.pad_token, "pad_token"}}})
      if (std::find(tokens.begin(), tokens.end(), *t) == tokens.end())
        data::detail::fail(vocab_path, 0,
                           "has no " + data::detail::quote(*t) + " token (the " + name + " of tokenizer_config.json)");
    return BertTokenizer(WordPiece(std::move(tokens), std::move(options)), normalizer, std::move(special));
  }

  /// The ids of `text` (UTF-8) without special tokens added or truncation; throws std::invalid_argument naming the
  /// byte offset if `text` is not valid UTF-8.
  std::vector<int> tokenize(std::string_view text) const {
    std::vector<int> ids;
    Work work;
    std::size_t segment = 0;  // start of the text before the next special token
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t length = 0;
      int id = -1;
      if (special_first_byte_[static_cast<unsigned char>(text[i])]) {
        for (std::size_t k = 0; k < special_texts_.size(); ++k)
          if (special_texts_[k].size() > length && text.substr(i).starts_with(special_texts_[k])) {
            length = special_texts_[k].size();
            id = special_ids_[k];
          }
      }
      if (id < 0) {
        ++i;
        continue;
      }
      tokenize_segment(text, segment, i, ids, work);
      ids.push_back(id);
      i += length;
      segment = i;
    }
    tokenize_segment(text, segment, text.size(), ids, work);
    return ids;
  }

  /// "[CLS] text [SEP]", the text's tokens cut to max_length - 2 if needed; type ids all 0. Throws
  /// std::invalid_argument for invalid UTF-8, or a max_length below 2.
  Encoding encode(std::string_view text, std::size_t max_length = 512) const {
    if (max_length < 2)
      throw std::invalid_argument("zeroth: encode needs max_length >= 2 (for [CLS] and [SEP]), not " +
                                  std::to_string(max_length));
    std::vector<int> a = tokenize(text);
    if (a.size() > max_length - 2) a.resize(max_length - 2);
    Encoding e;
    e.ids.reserve(a.size() + 2);
    e.ids.push_back(cls_id_);
    e.ids.insert(e.ids.end(), a.begin(), a.end());
    e.ids.push_back(sep_id_);
    e.type_ids.assign(e.ids.size(), 0);
    return e;
  }

  /// "[CLS] a [SEP] b [SEP]", type ids 0 up to the first [SEP] and 1 after it. When that is longer than
  /// max_length, tokens are cut from the ends of the texts, longer one first, as HF's "longest_first" truncation
  /// (ties and odd budgets resolved as it does). Throws std::invalid_argument for invalid UTF-8, or a max_length
  /// below 3.
  Encoding encode_pair(std::string_view a, std::string_view b, std::size_t max_length = 512) const {
    if (max_length < 3)
      throw std::invalid_argument("zeroth: encode_pair needs max_length >= 3 (for [CLS] and two [SEP]), not " +
                                  std::to_string(max_length));
    std::vector<int> x = tokenize(a);
    std::vector<int> y = tokenize(b);
    truncate_longest_first(x, y, max_length - 3);
    Encoding e;
    e.ids.reserve(x.size() + y.size() + 3);
    e.ids.push_back(cls_id_);
    e.ids.insert(e.ids.end(), x.begin(), x.end());
    e.ids.push_back(sep_id_);
    e.type_ids.assign(e.ids.size(), 0);
    e.ids.insert(e.ids.end(), y.begin(), y.end());
    e.ids.push_back(sep_id_);
    e.type_ids.resize(e.ids.size(), 1);
    return e;
  }

  /// The token of `id`; throws std::out_of_range when there is none.
  std::string_view token(int id) const { return model_.id_to_token(id); }
  /// The id of `token`, or -1 when it is not in the vocabulary.
  int token_to_id(std::string_view token) const { return model_.token_to_id(token); }

  int vocab_size() const { return model_.vocab_size(); }
  int pad_id() const { return pad_id_; }
  int cls_id() const { return cls_id_; }
  int sep_id() const { return sep_id_; }
  int unk_id() const { return model_.unk_id(); }
  int mask_id() const { return mask_id_; }

  const BertNormalizer& normalizer() const { return normalizer_; }
  const BertPreTokenizer& pre_tokenizer() const { return pre_tokenizer_; }
  const WordPiece& model() const { return model_; }

  /// Cuts `a` and `b` to at most `budget` tokens together, as HF's TruncationStrategy::LongestFirst (right side):
  /// the shorter keeps all its tokens if the longer can take the rest, else each gets half (the second one the
  /// extra token of an odd budget).
  static void truncate_longest_first(std::vector<int>& a, std::vector<int>& b, std::size_t budget) {
    if (a.size() + b.size() <= budget) return;
    const bool swapped = a.size() > b.size();
    std::size_t short_len = std::min(a.size(), b.size());
    std::size_t long_len = short_len > budget ? short_len : std::max(short_len, budget - short_len);
    if (short_len + long_len > budget) {
      short_len = budget / 2;
      long_len = short_len + budget % 2;
    }
    const std::size_t len_a = swapped ? long_len : short_len;
    const std::size_t len_b = swapped ? short_len : long_len;
    if (a.size() > len_a) a.resize(len_a);
    if (b.size() > len_b) b.resize(len_b);
  }

 private:
  struct Work {
    std::u32string chars, normalized;
    std::string word, scratch;
  };

  // Normalizes, pre-tokenizes and splits text[begin, end) (no special tokens in it), appending the ids.
  void tokenize_segment(std::string_view text, std::size_t begin, std::size_t end, std::vector<int>& ids,
                        Work& work) const {
    if (begin == end) return;
    work.chars.clear();
    if (const std::size_t bad = detail::decode_utf8(text.substr(begin, end - begin), &work.chars);
        bad != std::string_view::npos)
      throw std::invalid_argument("zeroth: text is not valid UTF-8 (at byte offset " + std::to_string(begin + bad) +
                                  ")");
    work.normalized.clear();
    normalizer_.normalize_into(work.chars, work.normalized);
    pre_tokenizer_.for_each_word(work.normalized, [&](std::u32string_view w) {
      work.word.clear();
      for (char32_t c : w) detail::append_utf8(c, work.word);
      model_.tokenize_utf8(work.word, w.size(), ids, work.scratch);
    });
  }

  BertNormalizer normalizer_;
  BertPreTokenizer pre_tokenizer_;
  WordPiece model_;
  int cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, mask_id_ = -1;
  std::vector<std::string> special_texts_;  // matched in the raw text, leftmost then longest
  std::vector<int> special_ids_;
  std::array<bool, 256> special_first_byte_{};
};

}  // namespace zeroth::tokenizers
