#pragma once
// safetensors files (Hugging Face's tensor format): the whole header parsed and checked against the file first, then
// tensors streamed from it in pieces; and an atomic writer whose files the reference implementation reads.
//
// Layout: a little-endian u64 N, N bytes of JSON (tensor name -> {"dtype", "shape", "data_offsets": [begin, end]},
// offsets relative to the data section that follows; optional "__metadata__": {string: string}), then the data.
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zeroth/io/atomic_file.hpp"
#include "zeroth/stores/dtype.hpp"

namespace zeroth::io {

static_assert(std::endian::native == std::endian::little,
              "zeroth: safetensors I/O copies little-endian file bytes as they are, so it needs a little-endian host");

/// Element type of a stored tensor, as the file names it (to_string gives "F32", "BF16", ...).
enum class TensorDtype : std::uint8_t { f32, f16, bf16, f64, i64, i32, i16, i8, u8, boolean };

inline constexpr TensorDtype all_tensor_dtypes[] = {
    TensorDtype::f32, TensorDtype::f16, TensorDtype::bf16, TensorDtype::f64, TensorDtype::i64,
    TensorDtype::i32, TensorDtype::i16, TensorDtype::i8,   TensorDtype::u8,  TensorDtype::boolean};

namespace detail {
inline constexpr std::string_view tensor_dtype_name(TensorDtype t) noexcept {
  switch (t) {
    case TensorDtype::f32:
      return "F32";
    case TensorDtype::f16:
      return "F16";
    case TensorDtype::bf16:
      return "BF16";
    case TensorDtype::f64:
      return "F64";
    case TensorDtype::i64:
      return "I64";
    case TensorDtype::i32:
      return "I32";
    case TensorDtype::i16:
      return "I16";
    case TensorDtype::i8:
      return "I8";
    case TensorDtype::u8:
      return "U8";
    case TensorDtype::boolean:
      return "BOOL";
  }
  return "?";
}
}  // namespace detail

/// The file's name of `t`: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8" or "BOOL".
inline std::string to_string(TensorDtype t) { return std::string(detail::tensor_dtype_name(t)); }

/// Bytes per element of `t`.
inline constexpr std::size_t size_of(TensorDtype t) noexcept {
  switch (t) {
    case TensorDtype::f64:
    case TensorDtype::i64:
      return 8;
    case TensorDtype::f32:
    case TensorDtype::i32:
      return 4;
    case TensorDtype::f16:
    case TensorDtype::bf16:
    case TensorDtype::i16:
      return 2;
    case TensorDtype::i8:
    case TensorDtype::u8:
    case TensorDtype::boolean:
      return 1;
  }
  return 0;
}

/// The dtype the file calls `name` ("F32", ...), or nothing for a name this reader does not support.
inline std::optional<TensorDtype> tensor_dtype_from_string(std::string_view name) noexcept {
  for (TensorDtype t : all_tensor_dtypes)
    if (detail::tensor_dtype_name(t) == name) return t;
  return std::nullopt;
}

/// One tensor of a file: its element type, shape and byte range [begin, end) within the data section.
struct TensorInfo {
  std::string name;
  TensorDtype dtype = TensorDtype::f32;
  std::vector<std::size_t> shape;
  std::uint64_t begin = 0, end = 0;

  /// Product of the shape (1 for a scalar); a parsed tensor's was checked not to overflow.
  std::size_t numel() const noexcept {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
  }
  std::uint64_t bytes() const noexcept { return end - begin; }
  /// F32, F16, BF16 or F64: the dtypes SafetensorsFile::read converts.
  bool is_float() const noexcept {
    return dtype == TensorDtype::f32 || dtype == TensorDtype::f16 || dtype == TensorDtype::bf16 ||
           dtype == TensorDtype::f64;
  }
};

namespace detail {

/// A header longer than this is corrupt (the reference implementation's limit).
inline constexpr std::uint64_t safetensors_max_header_bytes = 100'000'000;
/// Elements converted per piece when a read converts (so a read never holds a second copy of a large tensor).
inline constexpr std::size_t safetensors_piece_elements = std::size_t{1} << 16;

inline std::runtime_error safetensors_error(const std::filesystem::path& path, const std::string& problem) {
  return std::runtime_error("zeroth: '" + path.string() + "': " + problem);
}

inline std::string shape_string(const std::vector<std::size_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

inline std::string range_string(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

/// Product of `shape`, or nothing when it does not fit in 64 bits (a zero dimension makes it 0 whatever the others).
inline std::optional<std::uint64_t> checked_numel(const std::vector<std::size_t>& shape) {
  if (std::find(shape.begin(), shape.end(), std::size_t{0}) != shape.end()) return 0;
  std::uint64_t n = 1;
  for (std::size_t d : shape) {
    if (n > std::numeric_limits<std::uint64_t>::max() / d) return std::nullopt;
    n *= d;
  }
  return n;
}

/// numel * size_of(dtype) in bytes, or nothing when it does not fit in 64 bits (nor in a size_t).
inline std::optional<std::uint64_t> checked_bytes(const std::vector<std::size_t>& shape, TensorDtype dtype) {
  const auto n = checked_numel(shape);
  if (!n || *n > std::numeric_limits<std::size_t>::max() ||
      *n > std::numeric_limits<std::uint64_t>::max() / size_of(dtype))
    return std::nullopt;
  return *n * size_of(dtype);
}

/// A non-negative JSON integer, or nothing (negative, fractional, too large for a u64, or not a number).
inline std::optional<std::uint64_t> json_u64(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
  return std::nullopt;
}

/// Records the first key that appears twice in one JSON object (nlohmann would silently keep one of them).
struct DuplicateKeyCheck {
  std::vector<std::set<std::string>> open_objects;
  std::string tensor;   // the top-level key being parsed
  std::string problem;  // empty while no duplicate was seen

  bool operator()(int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      open_objects.emplace_back();
    } else if (event == Event::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == Event::key && !open_objects.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (open_objects.size() == 1) tensor = key;
      if (!open_objects.back().insert(key).second && problem.empty())
        problem = open_objects.size() == 1 ? "the header names '" + key + "' twice"
                                           : "key '" + key + "' appears twice within '" + tensor + "'";
    }
    return true;
  }
};

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

/// An open regular file, its size and identity (device and inode, to notice a file replaced by another).
struct OpenedFile {
  FilePtr file;
  std::uint64_t size = 0, device = 0, inode = 0;
};

/// Opens a regular file for reading; throws naming the file.
inline OpenedFile open_regular(const std::filesystem::path& path) {
  std::error_code ec;
  const auto type = std::filesystem::status(path, ec).type();
  if (type == std::filesystem::file_type::not_found) throw safetensors_error(path, "cannot open: no such file");
  // Checked before opening too: opening a pipe would block.
  if (type != std::filesystem::file_type::regular && type != std::filesystem::file_type::none)
    throw safetensors_error(path,
                            "is not a regular file (a directory, pipe or device); safetensors are read with seeks");
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) throw safetensors_error(path, std::string("cannot open for reading: ") + std::strerror(errno));
  struct ::stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0)
    throw safetensors_error(path, std::string("cannot find its size: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw safetensors_error(path,
                            "is not a regular file (a directory, pipe or device); safetensors are read with seeks");
  return {std::move(f), static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(st.st_dev),
          static_cast<std::uint64_t>(st.st_ino)};
}

/// Reads exactly `n` bytes or throws naming the file and what was being read.
inline void read_exactly(std::FILE* f, void* out, std::size_t n, const std::filesystem::path& path,
                         const std::string& what) {
  if (n && std::fread(out, 1, n, f) != n)
    throw safetensors_error(path, "reading " + what + " failed: " +
                                      (std::ferror(f) ? std::string(std::strerror(errno)) : "the file ended early"));
}

}  // namespace detail

/// A safetensors file whose header has been read and validated; tensors are read from the file on demand.
///   auto file = zeroth::io::SafetensorsFile::open("model.safetensors");
///   std::vector<float> w(file.at("pooler.dense.bias").numel());
///   file.read(file.at("pooler.dense.bias"), w);
class SafetensorsFile {
 public:
  /// Reads and validates the header only (every tensor's dtype, shape and range checked against the file's size).
  /// Throws std::runtime_error, starting "zeroth: '<path>': ", naming the problem (and the tensor, where one).
  static SafetensorsFile open(const std::filesystem::path& path) {
    const auto opened = detail::open_regular(path);
    std::FILE* f = opened.file.get();
    if (opened.size < 8) return parse_header({}, opened.size, path);  // throws: too short
    std::string head(8, '\0');
    detail::read_exactly(f, head.data(), 8, path, "the header length");
    std::uint64_t n = 0;
    std::memcpy(&n, head.data(), 8);
    check_header_length(n, opened.size, path);
    head.resize(8 + static_cast<std::size_t>(n));
    detail::read_exactly(f, head.data() + 8, static_cast<std::size_t>(n), path, "the header");
    auto out = parse_header(head, opened.size, path);
    out.identity_ = {opened.device, opened.inode};
    return out;
  }

  /// Validates a header held in memory: `bytes` starts with the file's first bytes (at least the 8 + N of the length
  /// and the header; more are ignored) and the file is `file_size` bytes long. `path` names it in errors and is where
  /// read() will find the data. open() is this after reading the header; a fuzzer calls it directly.
  static SafetensorsFile parse_header(std::string_view bytes, std::uint64_t file_size, std::filesystem::path path) {
    SafetensorsFile out;
    out.path_ = std::move(path);
    out.file_size_ = file_size;
    auto fail = [&](const std::string& problem) { return detail::safetensors_error(out.path_, problem); };
    if (file_size < 8)
      throw fail("is " + std::to_string(file_size) +
                 " bytes long, shorter than the 8-byte header length that starts a safetensors file");
    if (bytes.size() < 8) throw fail("only " + std::to_string(bytes.size()) + " bytes of its header were given");
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    check_header_length(n, file_size, out.path_);
    if (bytes.size() - 8 < n)
      throw fail("only " + std::to_string(bytes.size() - 8) + " bytes of its " + std::to_string(n) +
                 "-byte header were given");
    out.data_offset_ = 8 + n;
    const std::uint64_t data_size = file_size - out.data_offset_;
    const std::string_view text = bytes.substr(8, static_cast<std::size_t>(n));

    detail::DuplicateKeyCheck duplicates;
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(text.begin(), text.end(), std::ref(duplicates));
    } catch (const nlohmann::json::exception& e) {
      throw fail(std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) throw fail(std::string("header is not a JSON object but ") + header.type_name());
    if (!duplicates.problem.empty()) throw fail(duplicates.problem);

    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it.key() == "__metadata__") {
        out.metadata_ = parse_metadata(it.value(), fail);
        continue;
      }
      out.tensors_.push_back(parse_entry(it.key(), it.value(), data_size, fail));
    }

    std::sort(out.tensors_.begin(), out.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end != b.end ? a.end < b.end : a.name < b.name;
    });
    // Sorted by begin, a non-empty tensor overlaps an earlier one exactly when it starts before the furthest end yet.
    const TensorInfo* reach = nullptr;
    for (const TensorInfo& t : out.tensors_) {
      if (reach && t.begin < reach->end && t.begin < t.end)
        throw fail("tensors '" + reach->name + "' " + detail::range_string(reach->begin, reach->end) + " and '" +
                   t.name + "' " + detail::range_string(t.begin, t.end) + " overlap");
      if (!reach || t.end > reach->end) reach = &t;
    }
    for (std::size_t i = 0; i < out.tensors_.size(); ++i) out.index_.emplace(out.tensors_[i].name, i);
    return out;
  }

  /// The tensors, in file order (by offset).
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  /// The tensor called `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  /// The tensor called `name`; throws std::runtime_error naming the file and the tensor when there is none.
  const TensorInfo& at(std::string_view name) const {
    if (const TensorInfo* t = find(name)) return *t;
    throw detail::safetensors_error(path_, "has no tensor '" + std::string(name) + "'");
  }
  /// The header's "__metadata__" (empty when it has none).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  const std::filesystem::path& path() const noexcept { return path_; }
  std::uint64_t file_size() const noexcept { return file_size_; }
  /// Offset in the file of the data section (8 + the header's length), from which TensorInfo::begin counts.
  std::uint64_t data_offset() const noexcept { return data_offset_; }

  /// Reads floating tensor `t` (F32, F16, BF16 or F64) of this file into `out` as float32: F16/BF16 exactly, F64
  /// rounded to nearest. Throws std::invalid_argument when `out` does not hold t.numel() elements or `t` is not this
  /// file's, and std::runtime_error naming the file and tensor when `t` is not floating or the read fails.
  void read(const TensorInfo& t, std::span<float> out) const {
    const TensorInfo& mine = own_float(t, out.size(), "float32");
    switch (mine.dtype) {
      case TensorDtype::f32:
        return read_into(mine, out.data(), mine.bytes());
      case TensorDtype::f16:
        return read_converted<float16>(mine, out, [](float16 h) { return to_float(h); });
      case TensorDtype::bf16:
        return read_converted<bfloat16>(mine, out, [](bfloat16 h) { return to_float(h); });
      default:
        return read_converted<double>(mine, out, [](double d) { return static_cast<float>(d); });
    }
  }

  /// Reads floating tensor `t` into `out` as bfloat16: BF16 copied, F32 rounded to nearest even (zeroth::to_bfloat16),
  /// F16 and F64 through float32. Throws as the float32 read does.
  void read(const TensorInfo& t, std::span<bfloat16> out) const {
    const TensorInfo& mine = own_float(t, out.size(), "bfloat16");
    switch (mine.dtype) {
      case TensorDtype::bf16:
        return read_into(mine, out.data(), mine.bytes());
      case TensorDtype::f32:
        return read_converted<float>(mine, out, [](float f) { return to_bfloat16(f); });
      case TensorDtype::f16:
        return read_converted<float16>(mine, out, [](float16 h) { return to_bfloat16(to_float(h)); });
      default:
        return read_converted<double>(mine, out, [](double d) { return to_bfloat16(static_cast<float>(d)); });
    }
  }

  /// Copies the raw (little-endian) bytes of tensor `t`, of any dtype, into `out`, which must hold t.bytes() of them.
  void read_raw(const TensorInfo& t, std::span<std::byte> out) const {
    const TensorInfo& mine = own(t);
    if (out.size() != mine.bytes())
      throw std::invalid_argument("zeroth: '" + path_.string() + "': tensor '" + t.name + "' has " +
                                  std::to_string(mine.bytes()) + " bytes but the output holds " +
                                  std::to_string(out.size()));
    read_into(mine, out.data(), mine.bytes());
  }

 private:
  SafetensorsFile() = default;

  static void check_header_length(std::uint64_t n, std::uint64_t file_size, const std::filesystem::path& path) {
    if (n > detail::safetensors_max_header_bytes)
      throw detail::safetensors_error(path, "header length " + std::to_string(n) + " is absurd (over the " +
                                                std::to_string(detail::safetensors_max_header_bytes) +
                                                "-byte limit): the file is corrupt or not safetensors");
    if (n > file_size - 8)
      throw detail::safetensors_error(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                                                std::to_string(file_size) + " bytes, " + std::to_string(file_size - 8) +
                                                " after the length)");
  }

  template <class Fail>
  static std::map<std::string, std::string> parse_metadata(const nlohmann::json& v, const Fail& fail) {
    if (!v.is_object()) throw fail(std::string("'__metadata__' is not an object of strings but ") + v.type_name());
    std::map<std::string, std::string> out;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.value().is_string())
        throw fail("'__metadata__' entry '" + it.key() + "' is not a string but " + it.value().type_name());
      out.emplace(it.key(), it.value().get<std::string>());
    }
    return out;
  }

  template <class Fail>
  static TensorInfo parse_entry(const std::string& name, const nlohmann::json& v, std::uint64_t data_size,
                                const Fail& fail) {
    const std::string what = "tensor '" + name + "'";
    if (!v.is_object()) throw fail(what + ": entry is not a JSON object but " + v.type_name());
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) throw fail(what + ": entry has no '" + field + "'");
    TensorInfo t;
    t.name = name;

    const auto& dtype = v["dtype"];
    if (!dtype.is_string()) throw fail(what + ": 'dtype' is not a string but " + dtype.type_name());
    const auto parsed = tensor_dtype_from_string(dtype.get_ref<const std::string&>());
    if (!parsed) {
      std::string supported;
      for (TensorDtype d : all_tensor_dtypes) supported += (supported.empty() ? "" : ", ") + to_string(d);
      throw fail(what + ": unknown dtype '" + dtype.get<std::string>() + "' (supported: " + supported + ")");
    }
    t.dtype = *parsed;

    const auto& shape = v["shape"];
    if (!shape.is_array()) throw fail(what + ": 'shape' is not an array of non-negative integers");
    for (const auto& d : shape) {
      const auto dim = detail::json_u64(d);
      if (!dim || *dim > std::numeric_limits<std::size_t>::max())
        throw fail(what + ": 'shape' is not an array of non-negative integers (it holds " + d.dump() + ")");
      t.shape.push_back(static_cast<std::size_t>(*dim));
    }

    const auto& offsets = v["data_offsets"];
    std::optional<std::uint64_t> begin, end;
    if (offsets.is_array() && offsets.size() == 2)
      begin = detail::json_u64(offsets[0]), end = detail::json_u64(offsets[1]);
    if (!begin || !end)
      throw fail(what + ": 'data_offsets' is not an array of two non-negative integers (it is " + offsets.dump() + ")");
    t.begin = *begin;
    t.end = *end;
    const std::string range = detail::range_string(t.begin, t.end);
    if (t.begin > t.end) throw fail(what + ": data_offsets " + range + " begin after they end");
    const std::string described = what + " (" + to_string(t.dtype) + ", shape " + detail::shape_string(t.shape) + ")";
    const auto bytes = detail::checked_bytes(t.shape, t.dtype);
    if (!bytes) throw fail(described + " has more bytes than 64 bits can count");
    if (*bytes != t.end - t.begin)
      throw fail(described + " needs " + std::to_string(*bytes) + " bytes but its data_offsets " + range + " hold " +
                 std::to_string(t.end - t.begin));
    if (t.end > data_size)
      throw fail(what + ": data_offsets " + range + " run past the end of the data section (" +
                 std::to_string(data_size) + " bytes)");
    return t;
  }

  /// This file's own record of `t` (a TensorInfo from another file, or altered, is refused).
  const TensorInfo& own(const TensorInfo& t) const {
    const TensorInfo* mine = find(t.name);
    if (!mine || mine->begin != t.begin || mine->end != t.end || mine->dtype != t.dtype)
      throw std::invalid_argument("zeroth: '" + path_.string() + "': tensor '" + t.name +
                                  "' is not one of this file's tensors");
    return *mine;
  }

  const TensorInfo& own_float(const TensorInfo& t, std::size_t out_size, const char* into) const {
    const TensorInfo& mine = own(t);
    if (!mine.is_float())
      throw detail::safetensors_error(path_, "tensor '" + t.name + "' is " + to_string(mine.dtype) +
                                                 ", not a floating dtype (F32, F16, BF16, F64) that reads as " + into);
    if (out_size != mine.numel())
      throw std::invalid_argument("zeroth: '" + path_.string() + "': tensor '" + t.name + "' has " +
                                  std::to_string(mine.numel()) + " elements (shape " +
                                  detail::shape_string(mine.shape) + ") but the output holds " +
                                  std::to_string(out_size));
    return mine;
  }

  /// Reopens the file (so that reads are independent and const) positioned at tensor `t`'s first byte, checking it is
  /// still the file whose header was read.
  detail::FilePtr open_at(const TensorInfo& t) const {
    auto [f, size, device, inode] = detail::open_regular(path_);
    if (identity_ && *identity_ != std::pair{device, inode})
      throw detail::safetensors_error(path_, "was replaced by another file since its header was read");
    if (size != file_size_)
      throw detail::safetensors_error(path_, "changed size since its header was read (was " +
                                                 std::to_string(file_size_) + " bytes, now " + std::to_string(size) +
                                                 ")");
    const std::uint64_t at = data_offset_ + t.begin;  // <= file_size_: checked with the header
    if (at > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()) ||
        ::fseeko(f.get(), static_cast<off_t>(at), SEEK_SET) != 0)
      throw detail::safetensors_error(path_, "cannot seek to tensor '" + t.name + "' at byte " + std::to_string(at));
    return std::move(f);
  }

  void read_into(const TensorInfo& t, void* out, std::uint64_t bytes) const {
    if (bytes == 0) return;
    auto f = open_at(t);
    detail::read_exactly(f.get(), out, static_cast<std::size_t>(bytes), path_, "tensor '" + t.name + "'");
  }

  template <class Src, class Dst, class Convert>
  void read_converted(const TensorInfo& t, std::span<Dst> out, Convert convert) const {
    static_assert(sizeof(Src) == 2 || sizeof(Src) == 4 || sizeof(Src) == 8);
    if (out.empty()) return;
    auto f = open_at(t);
    std::vector<Src> piece(std::min(out.size(), detail::safetensors_piece_elements));
    for (std::size_t i = 0; i < out.size(); i += piece.size()) {
      const std::size_t n = std::min(piece.size(), out.size() - i);
      detail::read_exactly(f.get(), piece.data(), n * sizeof(Src), path_, "tensor '" + t.name + "'");
      for (std::size_t j = 0; j < n; ++j) out[i + j] = convert(piece[j]);
    }
  }

  std::filesystem::path path_;
  std::uint64_t file_size_ = 0, data_offset_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> identity_;  // (device, inode) when open() read the header
};

/// A tensor to save: `data` points at numel * size_of(dtype) little-endian bytes (may be null when there are none).
struct TensorRef {
  std::string name;
  TensorDtype dtype = TensorDtype::f32;
  std::vector<std::size_t> shape;
  const void* data = nullptr;
};

/// Writes `tensors` (contiguous, in the given order) and `metadata` to a safetensors file at `path`, atomically (a
/// crash or failed write leaves the old file or the new one). The header is compact JSON, "__metadata__" first when
/// there is any, padded with spaces to a multiple of 8 bytes, as the reference implementation writes it.
/// Throws std::invalid_argument for a repeated or reserved name, missing data, a size past 64 bits or a string that is
/// not UTF-8, and std::runtime_error when writing fails.
inline void save_safetensors(const std::filesystem::path& path, std::span<const TensorRef> tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  auto invalid = [&](const std::string& problem) {
    return std::invalid_argument("zeroth: cannot save '" + path.string() + "': " + problem);
  };
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string_view> names;
  std::vector<std::uint64_t> sizes;
  std::uint64_t offset = 0;
  for (const TensorRef& t : tensors) {
    if (t.name == "__metadata__") throw invalid("'__metadata__' is reserved and cannot name a tensor");
    if (!names.insert(t.name).second) throw invalid("tensor name '" + t.name + "' is given twice");
    const auto bytes = detail::checked_bytes(t.shape, t.dtype);
    if (!bytes || *bytes > std::numeric_limits<std::uint64_t>::max() - offset)
      throw invalid("tensor '" + t.name + "' (shape " + detail::shape_string(t.shape) + ") is too large");
    if (*bytes && !t.data) throw invalid("tensor '" + t.name + "' has no data");
    header[t.name] = {{"dtype", to_string(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", nlohmann::ordered_json::array({offset, offset + *bytes})}};
    sizes.push_back(*bytes);
    offset += *bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw invalid(std::string("a tensor name or metadata string is not valid UTF-8 (") + e.what() + ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  write_atomic(path, [&](std::FILE* f) {
    auto put = [&](const void* p, std::uint64_t n) {
      if (n && std::fwrite(p, 1, static_cast<std::size_t>(n), f) != n)
        throw std::runtime_error("zeroth: '" + path.string() + "': short write");
    };
    const std::uint64_t n = text.size();
    put(&n, 8);
    put(text.data(), text.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) put(tensors[i].data, sizes[i]);
  });
}

}  // namespace zeroth::io
