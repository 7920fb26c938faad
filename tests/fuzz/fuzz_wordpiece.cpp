// libFuzzer target: zeroth/tokenizers (vocab.txt, WordPiece and the BERT tokenizer's stages).
// An input whose first byte is 'V' is a vocab.txt (read, then used to tokenize); any other input is text for the
// real all-MiniLM-L6-v2 tokenizer (loaded once from $ZEROTH_SHARED_DIR, else the build's ../shared), single and as a
// pair. Only std::invalid_argument (invalid UTF-8 text) and std::runtime_error (a corrupt vocabulary file) may escape
// the library; every encoding must keep its invariants.
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "fuzz.hpp"
#include "zeroth/tokenizers/bert_tokenizer.hpp"

namespace zt = zeroth::tokenizers;
using zeroth::fuzz::check;

namespace {

const zt::BertTokenizer& tokenizer() {
  static const zt::BertTokenizer tok = [] {
    const char* shared = std::getenv("ZEROTH_SHARED_DIR");
#ifdef ZEROTH_SHARED_DIR
    if (!shared) shared = ZEROTH_SHARED_DIR;  // the build's ../shared
#endif
    return zt::BertTokenizer::from_folder(std::filesystem::path(shared ? shared : "../shared") / "models" /
                                          "all-MiniLM-L6-v2");
  }();
  return tok;
}

void check_encoding(const zt::BertTokenizer& tok, const zt::Encoding& e, std::size_t max_length) {
  check(e.ids.size() == e.type_ids.size() && e.ids.size() >= 2 && e.ids.size() <= max_length);
  check(e.ids.front() == tok.cls_id() && e.ids.back() == tok.sep_id());
  for (std::size_t i = 0; i < e.ids.size(); ++i) {
    check(e.ids[i] >= 0 && e.ids[i] < tok.vocab_size());
    check(e.type_ids[i] == 0 || e.type_ids[i] == 1);
    if (i > 0) check(e.type_ids[i] >= e.type_ids[i - 1]);
  }
}

void fuzz_text(std::string_view text) {
  const zt::BertTokenizer& tok = tokenizer();
  const bool valid = zt::detail::decode_utf8(text, nullptr) == std::string_view::npos;
  try {
    const std::size_t max_length = text.empty() ? 512 : 3 + static_cast<unsigned char>(text[0]) % 40;
    check_encoding(tok, tok.encode(text), 512);
    check_encoding(tok, tok.encode(text, max_length), max_length);
    std::size_t half = text.size() / 2;  // on a character boundary when the text is valid
    while (half > 0 && (static_cast<unsigned char>(text[half]) & 0xC0) == 0x80) --half;
    const zt::Encoding pair = tok.encode_pair(text.substr(0, half), text.substr(half), max_length);
    check_encoding(tok, pair, max_length);
    check(valid);
  } catch (const std::invalid_argument&) {
    check(!valid);
  }
  if (valid) {  // the stages on their own
    const std::u32string chars = zt::detail::utf8_to_u32(text);
    const std::u32string normalized = tok.normalizer().normalize(chars);
    check(zt::detail::decode_utf8(zt::detail::u32_to_utf8(normalized), nullptr) == std::string_view::npos);
    tok.pre_tokenizer().for_each_word(normalized, [](std::u32string_view w) { check(!w.empty()); });
  }
}

void fuzz_vocab(std::string_view bytes) {
  static const zeroth::fuzz::ScratchFile file("vocab.txt");
  const auto& path = file.write(bytes);
  std::optional<zt::WordPiece> wp;
  if (!zeroth::fuzz::accepts([&] { wp = zt::WordPiece::from_file(path); }, path.string())) return;
  for (int id = 0; id < wp->vocab_size(); ++id) check(wp->token_to_id(wp->id_to_token(id)) == id);
  for (std::string_view word : {"a", "ab", "unaffable", "##", "\xc3\xa9t\xc3\xa9"})
    for (int id : wp->tokenize(word)) check(id >= 0 && id < wp->vocab_size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (!input.empty() && input[0] == 'V') {
    fuzz_vocab(input.substr(1));
  } else {
    fuzz_text(input);
  }
  return 0;
}
