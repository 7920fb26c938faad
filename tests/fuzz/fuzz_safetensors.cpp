// libFuzzer target for zeroth/io/safetensors.hpp: the input is a whole file. Its header is parsed from memory; when it
// is accepted, the bytes are written to a temporary file, opened, and every tensor read (as float32 and bfloat16 when
// floating, raw otherwise), so that the checks the parser made are what keeps the reads inside the file.
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -I/usr/include/eigen3 \
//     tests/fuzz/fuzz_safetensors.cpp -o fuzz_safetensors && ./fuzz_safetensors -runs=20000 corpus/
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "zeroth/io/safetensors.hpp"

namespace {

const std::filesystem::path& scratch() {
  static const std::filesystem::path p =
      std::filesystem::temp_directory_path() / ("zeroth_fuzz_safetensors_" + std::to_string(::getpid()));
  return p;
}

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
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto parsed = zeroth::io::SafetensorsFile::parse_header(bytes, size, "<fuzz input>");
    for (const auto& t : parsed.tensors()) {
      if (parsed.find(t.name) != &t) __builtin_trap();            // every tensor is found by its name
      if (parsed.data_offset() + t.end > size) __builtin_trap();  // and lies inside the input
    }
  } catch (const std::exception&) {
    return 0;  // rejected: the usual outcome
  }
  try {
    if (std::FILE* f = std::fopen(scratch().c_str(), "wb")) {
      const bool written = std::fwrite(data, 1, size, f) == size;
      std::fclose(f);
      if (written) read_all(zeroth::io::SafetensorsFile::open(scratch()));
    }
  } catch (const std::exception&) {
    __builtin_trap();  // a header parse_header accepted must open and read
  }
  std::error_code ec;
  std::filesystem::remove(scratch(), ec);
  return 0;
}
