// libFuzzer target: zeroth/io/safetensors.hpp. The input is a whole file; its header is parsed from memory, then the
// bytes are written to a file, opened, and every tensor read (as float32 and bfloat16 when floating, raw otherwise),
// so that the checks the parser made are what keeps the reads inside the file. Both must accept the same inputs.
#include <vector>

#include "fuzz.hpp"
#include "zeroth/io/safetensors.hpp"

using zeroth::fuzz::check;

namespace {

void read_all(const zeroth::io::SafetensorsFile& file) {
  for (const auto& t : file.tensors()) {
    if (t.bytes() > (std::size_t{1} << 24)) continue;  // the input holds them all, so this is never hit in practice
    if (t.is_float()) {
      std::vector<float> f(t.numel());
      std::vector<zeroth::bfloat16> h(t.numel());
      file.read(t, f);
      file.read(t, h);
    } else {
      std::vector<std::byte> raw(t.bytes());
      file.read_raw(t, raw);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile file("model.safetensors");
  const std::string_view bytes = zeroth::fuzz::bytes(data, size);
  const bool parsed = zeroth::fuzz::accepts(
      [&] {
        const auto header = zeroth::io::SafetensorsFile::parse_header(bytes, size, "<fuzz input>");
        for (const auto& t : header.tensors()) {
          check(header.find(t.name) == &t);             // every tensor is found by its name
          check(header.data_offset() + t.end <= size);  // and lies inside the input
        }
      },
      "<fuzz input>");
  const auto& path = file.write(data, size);
  // open() must agree with parse_header; a header it accepted must open and read.
  const bool opened = zeroth::fuzz::accepts([&] { read_all(zeroth::io::SafetensorsFile::open(path)); }, path.string());
  check(opened == parsed);
  return 0;
}
