// libFuzzer target: prefix.bin (a trained prefix) for the tiny llama2.c shape of fixtures.hpp. An accepted prefix has
// 1 to seq_len - 1 tokens and keys and values of n_layers x tokens x kv_dim finite floats.
#include <cmath>

#include "fixtures.hpp"
#include "fuzz.hpp"
#include "zeroth/backends/llama2c/prefix_file.hpp"

namespace zl = zeroth::llama2c;
using zeroth::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile file("prefix.bin");
  static const zl::Config config = zeroth::fuzz::tiny_llama();
  const auto& path = file.write(data, size);
  zl::Prefix p;
  if (!zeroth::fuzz::accepts([&] { p = zl::load_prefix(path, config); }, path.string())) return 0;
  check(p.tokens >= 1 && p.tokens < config.seq_len);
  const auto n = static_cast<std::size_t>(config.n_layers) * p.tokens * config.kv_dim();
  check(p.keys.size() == n && p.values.size() == n);
  for (float x : p.keys) check(std::isfinite(x));
  return 0;
}
