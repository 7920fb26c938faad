// libFuzzer target: a BERT folder's JSON files. The input is read as config.json (read_config), then as
// 1_Pooling/config.json and as modules.json (read_pooling). An accepted config has heads dividing the hidden size.
#include "fuzz.hpp"
#include "zeroth/backends/bert/config.hpp"

namespace zb = zeroth::bert;
using zeroth::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile config("config.json"), pooling("1_Pooling/config.json"),
      modules("modules.json");
  const auto& path = config.write(data, size);
  zb::Config c;
  if (zeroth::fuzz::accepts([&] { c = zb::read_config(path); }, path.string()))
    check(c.hidden_size > 0 && c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads == 0);
  const auto folder = zeroth::fuzz::ScratchFile::folder();
  config.remove();
  for (const auto* f : {&pooling, &modules}) {
    f->write(data, size);
    zeroth::fuzz::accepts([&] { (void)zb::read_pooling(folder); }, f->path().string());
    f->remove();
  }
  return 0;
}
