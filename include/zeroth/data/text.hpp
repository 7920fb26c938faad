#pragma once
// Plain texts for causal language modelling: one text per line, or the sentence column of an SST-2 tsv.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "detail/text_file.hpp"
#include "sampling.hpp"
#include "tsv.hpp"

namespace zeroth::data {

/// Reads texts for a language-modelling loss: from a `.tsv` file, the sentences of SST-2's layouts (labels ignored);
/// from any other file, each non-empty line, trimmed of surrounding spaces. Throws std::runtime_error naming file:line
/// on a missing file, a malformed tsv row, or a text that is not UTF-8 (or holds a NUL byte). A text is tokenized
/// whole before a backend cuts it to the context, so keep texts to paragraphs rather than books.
///   auto texts = zeroth::data::read_texts("../shared/data/sst2/train.tsv");  // 6920 sentences
inline std::vector<std::string> read_texts(const std::filesystem::path& path) {
  std::vector<std::string> out;
  if (path.extension() == ".tsv") {
    for (auto& e : read_sst2_tsv(path)) {
      if (detail::utf8_error(e.text) != std::string_view::npos)
        detail::fail(path, e.line, "not UTF-8 text (or holds a NUL byte)");
      out.push_back(std::move(e.text));
    }
  } else {
    const detail::TextFile file = detail::read_lines(path);
    for (const auto& line : file.lines) {
      if (detail::utf8_error(line.text) != std::string_view::npos)
        detail::fail(path, line.number, "not UTF-8 text (or holds a NUL byte)");
      if (const auto t = detail::trim(line.text); !t.empty()) out.emplace_back(t);
    }
  }
  if (out.empty()) detail::fail(path, 0, "no texts");
  return out;
}

/// n texts drawn without replacement by a seeded permutation (all of them, in that order, when n >= their count).
inline std::vector<std::string> sample_texts(const std::vector<std::string>& texts, std::size_t n,
                                             std::uint64_t seed) {
  std::vector<std::string> out;
  for (std::size_t i : permutation(texts.size(), seed)) {
    if (out.size() == n) break;
    out.push_back(texts[i]);
  }
  return out;
}

}  // namespace zeroth::data
