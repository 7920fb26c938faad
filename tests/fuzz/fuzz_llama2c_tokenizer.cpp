// libFuzzer target: llama2.c's tokenizer.bin, loaded for stories260K's 512 tokens (the seed is its tok512.bin). A
// tokenizer accepted must encode and decode any text: ids in range, and only std::exception on a missing byte token.
#include "fuzz.hpp"
#include "zeroth/backends/llama2c/tokenizer.hpp"

namespace zl = zeroth::llama2c;
using zeroth::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile file("tokenizer.bin");
  const auto& path = file.write(data, size);
  zl::Tokenizer tok;
  if (!zeroth::fuzz::accepts([&] { tok = zl::Tokenizer::load(path, 512); }, path.string())) return 0;
  check(tok.vocab_size() == 512);
  for (std::string_view text : {"Once upon a time", "\xc3\xa9t\xc3\xa9 \xff\x80", ""}) {
    zeroth::fuzz::accepts([&] {
      const auto ids = tok.encode(text, true, true);
      for (int id : ids) check(id >= 0 && id < tok.vocab_size());
      (void)tok.decode(ids);
      (void)tok.encode_continuation(text);
    });
  }
  return 0;
}
