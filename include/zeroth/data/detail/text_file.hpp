#pragma once
// Internal: whole-file reading split into lines, and "file:line: problem" errors for the loaders.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace zeroth::data::detail {

/// Throws "zeroth: <path>:<line>: <problem>" (no line part when `line` is 0).
[[noreturn]] inline void fail(const std::filesystem::path& path, std::size_t line, const std::string& problem) {
  std::string where = path.string();
  if (line != 0) where += ":" + std::to_string(line);
  throw std::runtime_error("zeroth: " + where + ": " + problem);
}

/// One line of a text file, without its terminator.
struct Line {
  std::string_view text;  ///< Contents, CR of a CRLF ending and UTF-8 BOM removed.
  std::size_t number;     ///< 1-based line number.
};

/// A text file read whole; `lines` view into `bytes`.
struct TextFile {
  std::string bytes;        ///< The file's contents.
  std::vector<Line> lines;  ///< Its lines; trailing empty lines are dropped, inner ones kept.
};

/// Reads `path` and splits it at LF, accepting CRLF endings, a missing final newline and trailing empty lines.
inline TextFile read_lines(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, 0, "is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, 0, std::string("cannot open file (") + std::strerror(errno) + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, 0, "read error");
  TextFile file{std::move(ss).str(), {}};
  std::string_view rest = file.bytes;
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);
  for (std::size_t number = 1; !rest.empty(); ++number) {
    std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    file.lines.push_back({line, number});
  }
  while (!file.lines.empty() && file.lines.back().text.find_first_not_of(" \t") == std::string_view::npos)
    file.lines.pop_back();
  return file;
}

/// `s` without leading and trailing spaces and tabs.
inline std::string_view trim(std::string_view s) {
  std::size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

/// Offset of the first byte of `s` that breaks UTF-8 (overlong forms, surrogates, code points above U+10FFFF,
/// truncated sequences) or is NUL; npos when there is none.
inline std::size_t utf8_error(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return i;
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    std::uint32_t cp = n == 1 ? c : c & (0x7Fu >> n);
    for (std::size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 0x2) return i;
      cp = cp << 6 | (d & 0x3Fu);
    }
    constexpr std::uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n;
  }
  return std::string_view::npos;
}

/// Quotes `s` for a message, shortened to `max` characters.
inline std::string quote(std::string_view s, std::size_t max = 40) {
  if (s.size() > max) return "'" + std::string(s.substr(0, max)) + "...'";
  return "'" + std::string(s) + "'";
}

}  // namespace zeroth::data::detail
