// Tests for zeroth/io/safetensors.hpp: round trips, the real all-MiniLM-L6-v2 file, every rejection, atomic saves.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "zeroth/io/safetensors.hpp"
#include "support/temp_file.hpp"

#ifndef ZEROTH_SHARED_DIR
#define ZEROTH_SHARED_DIR "../shared"
#endif

namespace zio = zeroth::io;
namespace fs = std::filesystem;
using zio::TensorDtype;
using zio::TensorRef;

namespace {

using zeroth::test::TempDir;
using zeroth::test::TempFile;
using zeroth::test::error_of;

fs::path minilm() { return fs::path(ZEROTH_SHARED_DIR) / "models" / "all-MiniLM-L6-v2" / "model.safetensors"; }

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &n, 8);
  return s;
}

// A safetensors file: the length, the header `json` as given, then `data`.
std::string file_of(const std::string& json, const std::string& data = "") { return le64(json.size()) + json + data; }

// One tensor entry of a header.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Opens `bytes` as a file, expecting a rejection that starts with the file's name and contains each of `parts`; the
// in-memory parse of the same bytes must give the same message.
void check_rejected(const std::string& bytes, std::initializer_list<std::string> parts) {
  TempDir dir("rejected");
  const fs::path p = dir.path / "bad.safetensors";
  write_all(p, bytes);
  const std::string e = error_of([&] { zio::SafetensorsFile::open(p); });
  INFO(e);
  CHECK(starts_with(e, "zeroth: '" + p.string() + "': "));
  for (const auto& part : parts) CHECK_THAT(e, Catch::Contains(part));
  CHECK(error_of([&] { zio::SafetensorsFile::parse_header(bytes, bytes.size(), p); }) == e);
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace

TEST_CASE("safetensors: dtype names and sizes are the file's") {
  CHECK(zio::to_string(TensorDtype::f32) == "F32");
  CHECK(zio::to_string(TensorDtype::bf16) == "BF16");
  CHECK(zio::to_string(TensorDtype::boolean) == "BOOL");
  CHECK(zio::size_of(TensorDtype::i64) == 8);
  CHECK(zio::size_of(TensorDtype::f16) == 2);
  CHECK(zio::size_of(TensorDtype::u8) == 1);
  for (TensorDtype t : zio::all_tensor_dtypes) CHECK(zio::tensor_dtype_from_string(zio::to_string(t)) == t);
  CHECK_FALSE(zio::tensor_dtype_from_string("F8_E4M3"));
}

TEST_CASE("safetensors: F32, F16, BF16 and I64 tensors and metadata round-trip byte for byte") {
  TempDir dir("round_trip");
  const fs::path p = dir.path / "t.safetensors";
  const std::vector<float> f32 = {1.5f, -0.0f, 3.0e-42f, std::numeric_limits<float>::infinity(), -7.25f, 1e30f};
  std::vector<zeroth::float16> f16;
  for (float v : {1.0f, -2.5f, 65504.0f, 5.9604645e-08f /* 2^-24, subnormal */}) f16.push_back(zeroth::to_float16(v));
  std::vector<zeroth::bfloat16> bf16;
  for (float v : {0.1f, -3.0e38f, 1.0f / 3.0f}) bf16.push_back(zeroth::to_bfloat16(v));
  const std::vector<std::int64_t> i64 = {-1, 1LL << 40};
  const float scalar = 42.0f;
  const std::vector<TensorRef> tensors = {{"layer.weight", TensorDtype::f32, {2, 3}, f32.data()},
                                          {"half", TensorDtype::f16, {4}, f16.data()},
                                          {"brain", TensorDtype::bf16, {3, 1}, bf16.data()},
                                          {"ids", TensorDtype::i64, {1, 2}, i64.data()},
                                          {"scalar", TensorDtype::f32, {}, &scalar},
                                          {"empty", TensorDtype::f32, {0, 5}, nullptr}};
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "\xc3\xbcnicode \"quoted\""}};
  zio::save_safetensors(p, tensors, metadata);

  const auto file = zio::SafetensorsFile::open(p);
  CHECK(file.path() == p);
  CHECK(file.metadata() == metadata);
  REQUIRE(file.tensors().size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {  // contiguous, in the order given
    const auto& t = file.tensors()[i];
    CHECK(t.name == tensors[i].name);
    CHECK(t.dtype == tensors[i].dtype);
    CHECK(t.shape == tensors[i].shape);
    CHECK(t.begin == (i ? file.tensors()[i - 1].end : 0));
    CHECK(&file.at(t.name) == &t);
  }
  CHECK(file.find("nothing") == nullptr);
  CHECK(file.at("scalar").numel() == 1);
  CHECK(file.at("empty").numel() == 0);
  CHECK_FALSE(file.at("ids").is_float());

  auto raw = [&](const std::string& name) {
    std::string out(file.at(name).bytes(), '\0');
    file.read_raw(file.at(name), std::as_writable_bytes(std::span(out.data(), out.size())));
    return out;
  };
  CHECK(raw("layer.weight") == bytes_of(f32));
  CHECK(raw("half") == bytes_of(f16));
  CHECK(raw("brain") == bytes_of(bf16));
  CHECK(raw("ids") == bytes_of(i64));

  // Conversions are exact: F16 and BF16 widen to float; BF16 copies to bfloat16; F16 and F32 round as to_bfloat16.
  std::vector<float> got(6);
  file.read(file.at("layer.weight"), got);
  CHECK(bytes_of(got) == bytes_of(f32));
  got.resize(4);
  file.read(file.at("half"), got);
  CHECK(got == std::vector<float>{1.0f, -2.5f, 65504.0f, 5.9604645e-08f});
  got.resize(3);
  file.read(file.at("brain"), got);
  for (std::size_t i = 0; i < 3; ++i) CHECK(got[i] == zeroth::to_float(bf16[i]));
  std::vector<zeroth::bfloat16> halves(3);
  file.read(file.at("brain"), halves);
  CHECK(bytes_of(halves) == bytes_of(bf16));
  halves.resize(4);
  file.read(file.at("half"), halves);
  for (std::size_t i = 0; i < 4; ++i) CHECK(halves[i].bits == zeroth::to_bfloat16(zeroth::to_float(f16[i])).bits);
  halves.resize(6);
  file.read(file.at("layer.weight"), halves);
  for (std::size_t i = 0; i < 6; ++i) CHECK(halves[i].bits == zeroth::to_bfloat16(f32[i]).bits);
  std::vector<float> none;
  file.read(file.at("empty"), none);

  // Saving what was read gives the same file, byte for byte.
  const fs::path again = dir.path / "again.safetensors";
  std::vector<std::string> data;
  std::vector<TensorRef> reread;
  for (const auto& t : file.tensors()) data.push_back(raw(t.name));
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto& t = file.tensors()[i];
    reread.push_back({t.name, t.dtype, t.shape, data[i].data()});
  }
  zio::save_safetensors(again, reread, file.metadata());
  CHECK(read_all(again) == read_all(p));
}

TEST_CASE("safetensors: the header is compact JSON padded with spaces to a multiple of 8 bytes") {
  TempDir dir("padding");
  const fs::path p = dir.path / "t.safetensors";
  const std::vector<float> v = {1, 2, 3};
  zio::save_safetensors(p, std::vector<TensorRef>{{"a", TensorDtype::f32, {3}, v.data()}});
  const std::string bytes = read_all(p);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 12);
  const std::string json = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  CHECK(bytes.substr(8, n) == json + std::string(n - json.size(), ' '));
  CHECK(n - json.size() < 8);
}

TEST_CASE("safetensors: the real all-MiniLM-L6-v2 file") {
  REQUIRE(fs::exists(minilm()));
  const auto file = zio::SafetensorsFile::open(minilm());
  CHECK(file.tensors().size() == 104);  // 103 F32 (the pooler's included) and embeddings.position_ids
  CHECK(file.metadata() == std::map<std::string, std::string>{{"format", "pt"}});
  std::size_t floats = 0;
  for (const auto& t : file.tensors()) {
    if (t.dtype == TensorDtype::f32) floats += t.numel();
    CHECK((t.dtype == TensorDtype::f32 || t.name == "embeddings.position_ids"));
  }
  CHECK(floats == 22'713'216);
  const auto& words = file.at("embeddings.word_embeddings.weight");
  CHECK(words.dtype == TensorDtype::f32);
  CHECK(words.shape == std::vector<std::size_t>{30522, 384});
  const auto& ids = file.at("embeddings.position_ids");
  CHECK(ids.dtype == TensorDtype::i64);
  CHECK_FALSE(ids.is_float());
  CHECK(file.tensors().front().name == "embeddings.position_ids");  // file order: it starts the data

  std::vector<std::int64_t> positions(512);
  file.read_raw(ids, std::as_writable_bytes(std::span(positions)));
  for (std::size_t i = 0; i < positions.size(); ++i) CHECK(positions[i] == static_cast<std::int64_t>(i));

  const auto& bias = file.at("encoder.layer.0.attention.self.query.bias");
  CHECK(bias.shape == std::vector<std::size_t>{384});
  std::vector<float> b(bias.numel());
  file.read(bias, b);
  for (float x : b) CHECK(std::isfinite(x));
  // Read once with Python's struct module from the same offsets.
  CHECK(b[0] == -0.1737075299024582f);
  CHECK(b[1] == -0.03423604369163513f);
  CHECK(b[2] == 0.10978688299655914f);
  CHECK(b[3] == 0.19280831515789032f);
  // And read here independently of the reader: the length, then the bytes at 8 + N + begin.
  std::ifstream in(minilm(), std::ios::binary);
  std::uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  CHECK(file.data_offset() == 8 + n);
  in.seekg(static_cast<std::streamoff>(8 + n + bias.begin));
  std::vector<float> independent(bias.numel());
  in.read(reinterpret_cast<char*>(independent.data()), static_cast<std::streamsize>(bias.bytes()));
  REQUIRE(in);
  CHECK(bytes_of(independent) == bytes_of(b));

  // Read to bfloat16 is to_bfloat16 of the float read, over a tensor of many pieces too.
  for (const auto* t : {&bias, &words}) {
    std::vector<float> f(t->numel());
    std::vector<zeroth::bfloat16> h(t->numel());
    file.read(*t, f);
    file.read(*t, h);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < f.size(); ++i) differ += h[i].bits != zeroth::to_bfloat16(f[i]).bits;
    CHECK(differ == 0);
  }

  // The header parsed from memory describes the same tensors.
  const std::string head = read_all(minilm()).substr(0, 8 + n);
  const auto parsed = zio::SafetensorsFile::parse_header(head, fs::file_size(minilm()), minilm());
  REQUIRE(parsed.tensors().size() == file.tensors().size());
  for (std::size_t i = 0; i < parsed.tensors().size(); ++i) {
    CHECK(parsed.tensors()[i].name == file.tensors()[i].name);
    CHECK(parsed.tensors()[i].begin == file.tensors()[i].begin);
  }
}

TEST_CASE("safetensors: read refuses a non-float tensor, a wrong output size and another file's tensor") {
  const auto file = zio::SafetensorsFile::open(minilm());
  const std::string prefix = "zeroth: '" + minilm().string() + "': ";
  std::vector<float> out(512);
  std::string e = error_of([&] { file.read(file.at("embeddings.position_ids"), out); });
  CHECK(starts_with(e, prefix));
  CHECK_THAT(e, Catch::Contains("tensor 'embeddings.position_ids' is I64, not a floating dtype"));
  std::vector<zeroth::bfloat16> halves(512);
  CHECK_THAT(error_of([&] { file.read(file.at("embeddings.position_ids"), halves); }), Catch::Contains("I64"));

  const auto& bias = file.at("pooler.dense.bias");
  e = error_of<std::invalid_argument>([&] { file.read(bias, std::span(out).first(383)); });
  CHECK(starts_with(e, prefix));
  CHECK_THAT(e, Catch::Contains("tensor 'pooler.dense.bias' has 384 elements (shape [384]) but the output holds 383"));
  CHECK_THAT(error_of<std::invalid_argument>([&] { file.read(bias, std::span(halves).first(385)); }),
             Catch::Contains("the output holds 385"));

  zio::TensorInfo stranger = bias;
  stranger.begin += 4;
  stranger.end += 4;
  CHECK_THAT(error_of<std::invalid_argument>([&] { file.read(stranger, std::span(out).first(384)); }),
             Catch::Contains("tensor 'pooler.dense.bias' is not one of this file's tensors"));

  e = error_of([&] { file.at("pooler.dense.nothing"); });
  CHECK(e == prefix + "has no tensor 'pooler.dense.nothing'");
}

TEST_CASE("safetensors: a file that shrank or was replaced after its header was read fails naming it") {
  TempDir dir("shrank");
  const fs::path p = dir.path / "t.safetensors";
  const std::vector<float> v(100, 1.0f);
  zio::save_safetensors(p, std::vector<TensorRef>{{"v", TensorDtype::f32, {100}, v.data()}});
  const auto file = zio::SafetensorsFile::open(p);
  const auto replaced = zio::SafetensorsFile::open(p);
  fs::resize_file(p, fs::file_size(p) - 4);
  std::vector<float> out(100);
  std::string e = error_of([&] { file.read(file.at("v"), out); });
  CHECK(starts_with(e, "zeroth: '" + p.string() + "': "));
  CHECK_THAT(e, Catch::Contains("changed size since its header was read"));

  // A save over it renames another file into its place, of the old size.
  zio::save_safetensors(p, std::vector<TensorRef>{{"v", TensorDtype::f32, {100}, v.data()}});
  e = error_of([&] { replaced.read(replaced.at("v"), out); });
  CHECK(e == "zeroth: '" + p.string() + "': was replaced by another file since its header was read");
}

TEST_CASE("safetensors: rejects a missing file, a directory, a short file and a bad header length") {
  TempDir dir("not_a_file");
  std::string e = error_of([&] { zio::SafetensorsFile::open(dir.path); });
  CHECK(starts_with(e, "zeroth: '" + dir.path.string() + "': is not a regular file"));
  e = error_of([&] { zio::SafetensorsFile::open(dir.path / "absent.safetensors"); });
  CHECK(e == "zeroth: '" + (dir.path / "absent.safetensors").string() + "': cannot open: no such file");

  check_rejected("", {"is 0 bytes long, shorter than the 8-byte header length"});
  check_rejected("abcde", {"is 5 bytes long"});
  check_rejected(le64(1000) + "{}",
                 {"header length 1000 runs past the end of the file (10 bytes, 2 after the length)"});
  check_rejected(le64(std::numeric_limits<std::uint64_t>::max()) + "{}", {"is absurd (over the 100000000-byte limit)"});
  check_rejected(le64(100'000'001) + "{}", {"header length 100000001 is absurd"});
}

TEST_CASE("safetensors: rejects a header that is not a JSON object") {
  check_rejected(file_of("{\"a\": "), {"header is not valid JSON: ", "parse_error"});
  check_rejected(file_of(""), {"header is not valid JSON: "});
  check_rejected(file_of("{} trailing"), {"header is not valid JSON: "});
  check_rejected(file_of("[1, 2]"), {"header is not a JSON object but array"});
  check_rejected(file_of("\"text\""), {"header is not a JSON object but string"});
}

TEST_CASE("safetensors: rejects a malformed tensor entry, naming the tensor") {
  check_rejected(file_of(R"({"w": 5})"), {"tensor 'w': entry is not a JSON object but number"});
  check_rejected(file_of(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", "abcd"),
                 {"tensor 'w': entry has no 'dtype'"});
  check_rejected(file_of(R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", "abcd"),
                 {"tensor 'w': entry has no 'shape'"});
  check_rejected(file_of(R"({"w": {"dtype": "F32", "shape": [1]}})", "abcd"),
                 {"tensor 'w': entry has no 'data_offsets'"});
  check_rejected(file_of("{" + entry("w", "F8_E4M3", "[1]", "[0, 1]") + "}", "a"),
                 {"tensor 'w': unknown dtype 'F8_E4M3' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)"});
  check_rejected(file_of(R"({"w": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})", "abcd"),
                 {"tensor 'w': 'dtype' is not a string"});
  for (const char* shape : {"3", "[-1]", "[2.5]", "[\"2\"]", "[[2]]", "[18446744073709551616]"})
    check_rejected(file_of("{" + entry("w", "F32", shape, "[0, 4]") + "}", "abcd"),
                   {"tensor 'w': 'shape' is not an array of non-negative integers"});
  for (const char* offsets : {"[0]", "[0, 4, 8]", "[0, -4]", "\"0-4\"", "[0, 4.0]"})
    check_rejected(file_of("{" + entry("w", "F32", "[1]", offsets) + "}", "abcd"),
                   {"tensor 'w': 'data_offsets' is not an array of two non-negative integers"});
}

TEST_CASE("safetensors: rejects offsets that disagree with the shape, the data or each other") {
  check_rejected(file_of("{" + entry("w", "F32", "[2, 3]", "[0, 20]") + "}", std::string(24, 'x')),
                 {"tensor 'w' (F32, shape [2, 3]) needs 24 bytes but its data_offsets [0, 20] hold 20"});
  check_rejected(file_of("{" + entry("w", "BF16", "[3]", "[0, 4]") + "}", std::string(24, 'x')),
                 {"tensor 'w' (BF16, shape [3]) needs 6 bytes but its data_offsets [0, 4] hold 4"});
  check_rejected(file_of("{" + entry("w", "F32", "[1]", "[8, 4]") + "}", std::string(24, 'x')),
                 {"tensor 'w': data_offsets [8, 4] begin after they end"});
  check_rejected(file_of("{" + entry("w", "F32", "[2]", "[0, 8]") + "}", "abcd"),
                 {"tensor 'w': data_offsets [0, 8] run past the end of the data section (4 bytes)"});
  check_rejected(file_of("{" + entry("w", "I8", "[1]", "[18446744073709551614, 18446744073709551615]") + "}", "a"),
                 {"tensor 'w': data_offsets [18446744073709551614, 18446744073709551615] run past the end"});
  // Sizes that would wrap to 0 in 64 bits, with offsets claiming 0 bytes.
  check_rejected(file_of("{" + entry("w", "F32", "[4294967296, 4294967296]", "[0, 0]") + "}"),
                 {"tensor 'w' (F32, shape [4294967296, 4294967296]) has more bytes than 64 bits can count"});
  check_rejected(file_of("{" + entry("w", "F32", "[4611686018427387904]", "[0, 0]") + "}"),
                 {"tensor 'w' (F32, shape [4611686018427387904]) has more bytes than 64 bits can count"});
  check_rejected(file_of("{" + entry("a", "F32", "[2]", "[0, 8]") + "," + entry("b", "F32", "[2]", "[4, 12]") + "}",
                         std::string(12, 'x')),
                 {"tensors 'a' [0, 8] and 'b' [4, 12] overlap"});
  check_rejected(file_of("{" + entry("long", "F32", "[4]", "[0, 16]") + "," + entry("x", "F32", "[1]", "[4, 8]") + "," +
                             entry("inner", "F32", "[1]", "[8, 12]") + "}",
                         std::string(16, 'x')),
                 {"tensors 'long' [0, 16] and 'x' [4, 8] overlap"});
}

TEST_CASE("safetensors: accepts empty tensors, gaps and trailing bytes that overlap nothing") {
  TempDir dir("lenient");
  const fs::path p = dir.path / "t.safetensors";
  write_all(p, file_of("{" + entry("a", "F32", "[1]", "[0, 4]") + "," + entry("e", "F32", "[0]", "[2, 2]") + "," +
                           entry("b", "U8", "[2]", "[8, 10]") + "}",
                       std::string(16, 'x')));
  const auto file = zio::SafetensorsFile::open(p);
  REQUIRE(file.tensors().size() == 3);
  CHECK(file.tensors()[1].name == "e");
}

TEST_CASE("safetensors: rejects bad metadata and names given twice") {
  const std::string w = entry("w", "U8", "[1]", "[0, 1]");
  check_rejected(file_of(R"({"__metadata__": ["pt"], )" + w + "}", "a"),
                 {"'__metadata__' is not an object of strings but array"});
  check_rejected(file_of(R"({"__metadata__": {"format": "pt", "epoch": 3}, )" + w + "}", "a"),
                 {"'__metadata__' entry 'epoch' is not a string but number"});
  check_rejected(file_of("{" + w + "," + entry("w", "U8", "[1]", "[1, 2]") + "}", "ab"),
                 {"the header names 'w' twice"});
  check_rejected(file_of(R"({"__metadata__": {}, "__metadata__": {}})"), {"the header names '__metadata__' twice"});
  check_rejected(file_of(R"({"w": {"dtype": "U8", "dtype": "I8", "shape": [1], "data_offsets": [0, 1]}})", "a"),
                 {"key 'dtype' appears twice within 'w'"});
  check_rejected(file_of(R"({"__metadata__": {"k": "1", "k": "2"}})"), {"key 'k' appears twice within '__metadata__'"});
}

TEST_CASE("safetensors: save replaces the file atomically, and a failing write leaves the old one") {
  TempDir dir("atomic");
  const fs::path p = dir.path / "t.safetensors";
  const std::vector<float> small = {1, 2};
  zio::save_safetensors(p, std::vector<TensorRef>{{"v", TensorDtype::f32, {2}, small.data()}});
  const std::vector<float> other = {3, 4, 5};
  zio::save_safetensors(p, std::vector<TensorRef>{{"v", TensorDtype::f32, {3}, other.data()}}, {{"k", "v"}});
  CHECK(zio::SafetensorsFile::open(p).at("v").numel() == 3);
  auto entries = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir.path)) names.push_back(e.path().filename().string());
    return names;
  };
  CHECK(entries() == std::vector<std::string>{"t.safetensors"});
  const std::string before = read_all(p);

  // A write that runs out of room part way (the file size limit stands in for a full disk).
  const std::vector<float> big(1 << 16, 0.5f);
  rlimit old_limit{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit limit = old_limit;
  limit.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  std::string e;
  try {
    zio::save_safetensors(p, std::vector<TensorRef>{{"v", TensorDtype::f32, {big.size()}, big.data()}});
  } catch (const std::runtime_error& error) {
    e = error.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  CHECK_THAT(e, Catch::Contains("zeroth: "));
  CHECK(read_all(p) == before);
  CHECK(entries() == std::vector<std::string>{"t.safetensors"});
}

TEST_CASE("safetensors: save refuses reserved or repeated names and missing data, writing nothing") {
  TempDir dir("save_invalid");
  const fs::path p = dir.path / "t.safetensors";
  const float x = 1;
  using List = std::vector<TensorRef>;
  CHECK_THAT(error_of<std::invalid_argument>([&] {
               zio::save_safetensors(p, List{{"a", TensorDtype::f32, {1}, &x}, {"a", TensorDtype::f32, {1}, &x}});
             }),
             Catch::Contains("tensor name 'a' is given twice"));
  CHECK_THAT(error_of<std::invalid_argument>([&] {
               zio::save_safetensors(p, List{{"__metadata__", TensorDtype::f32, {1}, &x}});
             }),
             Catch::Contains("'__metadata__' is reserved"));
  CHECK_THAT(error_of<std::invalid_argument>([&] {
               zio::save_safetensors(p, List{{"a", TensorDtype::f32, {2}, nullptr}});
             }),
             Catch::Contains("tensor 'a' has no data"));
  CHECK_THAT(error_of<std::invalid_argument>([&] {
               zio::save_safetensors(p, List{{"a", TensorDtype::f32, {std::size_t{1} << 62}, &x}});
             }),
             Catch::Contains("tensor 'a' (shape [4611686018427387904]) is too large"));
  CHECK_THAT(error_of<std::invalid_argument>([&] {
               zio::save_safetensors(p, List{{"bad\xff", TensorDtype::f32, {1}, &x}});
             }),
             Catch::Contains("not valid UTF-8"));
  CHECK_FALSE(fs::exists(p));
}
