#pragma once
// SST-2 tab-separated files, in either LM-BFF layout.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "detail/text_file.hpp"
#include "example.hpp"

namespace zeroth::data {

namespace detail {

/// Parses an SST-2 label, "0" or "1".
inline int sst2_label(std::string_view s, const std::filesystem::path& path, std::size_t line) {
  if (s == "0" || s == "1") return s[0] - '0';
  fail(path, line, "label " + quote(s) + " is not 0 or 1");
}

/// Checks and stores an SST-2 sentence, trimmed of surrounding spaces.
inline Example sst2_example(std::string_view sentence, int label, const std::filesystem::path& path, std::size_t line) {
  sentence = trim(sentence);
  if (sentence.empty()) fail(path, line, "empty sentence");
  Example ex;
  ex.text = std::string(sentence);
  ex.label = label;
  ex.line = line;
  return ex;
}

}  // namespace detail

/// Reads SST-2: either a header `sentence<TAB>label` then `sentence<TAB>label` rows (train/dev, sst2-full),
/// or no header and `label sentence` rows (LM-BFF's test.tsv), told apart by the first line.
/// Sentences are trimmed of surrounding spaces; throws std::runtime_error naming file:line on any bad row.
///   auto train = zeroth::data::read_sst2_tsv("../shared/data/sst2/train.tsv");  // 6920 examples
inline std::vector<Example> read_sst2_tsv(const std::filesystem::path& path) {
  using namespace detail;
  TextFile file = read_lines(path);
  if (file.lines.empty()) fail(path, 0, "no examples (empty file)");
  std::string_view first = file.lines.front().text;
  bool header = first.find('\t') != std::string_view::npos;
  if (header && first != "sentence\tlabel") fail(path, 1, "header " + quote(first) + " is not 'sentence<TAB>label'");
  std::vector<Example> out;
  out.reserve(file.lines.size());
  for (std::size_t i = header ? 1 : 0; i < file.lines.size(); ++i) {
    auto [text, n] = file.lines[i];
    if (text.empty()) fail(path, n, "empty line");
    if (header) {
      std::size_t tab = text.find('\t');
      std::size_t columns = 1;
      for (char c : text) columns += c == '\t';
      if (columns != 2) fail(path, n, "expected 2 tab-separated columns, found " + std::to_string(columns));
      out.push_back(sst2_example(text.substr(0, tab), sst2_label(text.substr(tab + 1), path, n), path, n));
    } else {
      std::size_t space = text.find(' ');
      if (space == std::string_view::npos) fail(path, n, "expected 'label sentence', found " + quote(text));
      out.push_back(sst2_example(text.substr(space + 1), sst2_label(text.substr(0, space), path, n), path, n));
    }
  }
  if (out.empty()) fail(path, 0, "no examples (header only)");
  return out;
}

}  // namespace zeroth::data
