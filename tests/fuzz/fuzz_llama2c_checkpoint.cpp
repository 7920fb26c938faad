// libFuzzer target: llama2.c checkpoints (legacy and version 1), read as float32 and as bfloat16 matrices. A file
// accepted once must be accepted both ways, with the same header, and with every tensor sized as its config says.
#include "fuzz.hpp"
#include "zeroth/backends/llama2c/checkpoint.hpp"

namespace zl = zeroth::llama2c;
using zeroth::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile file("model.bin");
  const auto& path = file.write(data, size);
  zl::Weights w;
  zl::Format format{};
  if (!zeroth::fuzz::accepts([&] { w = zl::load_checkpoint(path, &format); }, path.string())) return 0;
  check(w.has_consistent_sizes() && w.matrix_dtype == zeroth::DType::f32);
  zl::Format again{};
  const zl::Weights half = zl::load_checkpoint(path, &again, zeroth::DType::bf16);
  check(again == format && half.config == w.config && half.has_consistent_sizes());
  return 0;
}
