#pragma once
// Tasks as data: a TaskSpec names a file layout, the fields a task reads, its templates and label words; `load` renders
// each row of a file into an Item: a causal LM's context and one candidate per class, or an encoder's text pair.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "zeroth/data/detail/text_file.hpp"
#include "zeroth/data/example.hpp"

namespace zeroth::tasks {

/// How a data file lays out its rows. Values of tsv, csv and label_text files are trimmed of surrounding spaces and
/// tabs; jsonl values are taken as they are (strings; booleans as "false"/"true"; integers in decimal).
enum class Format {
  tsv,                ///< a header row naming the columns, then rows of tab-separated values (no quoting)
  csv,                ///< a header row, then comma-separated rows with RFC 4180 quoting ("a, ""b""", newlines inside)
  label_text,         ///< no header; `label<TAB>text` lines if the first line has a tab, else `label<SPACE>text`
  jsonl,              ///< one JSON object per line, fields by name
  tsv_or_label_text,  ///< tsv when the first line, split at tabs, has a column named `label_field`; else label_text
                      ///< (SST-2 as LM-BFF ships it: `sentence<TAB>label` train/dev, `label sentence` test)
};

inline constexpr std::array<Format, 5> all_formats{Format::tsv, Format::csv, Format::label_text, Format::jsonl,
                                                   Format::tsv_or_label_text};

/// The format's name as spec files spell it: "tsv", "csv", "label_text", "jsonl", "tsv_or_label_text".
constexpr std::string_view format_name(Format f) {
  switch (f) {
    case Format::tsv:
      return "tsv";
    case Format::csv:
      return "csv";
    case Format::label_text:
      return "label_text";
    case Format::jsonl:
      return "jsonl";
    case Format::tsv_or_label_text:
      return "tsv_or_label_text";
  }
  return "?";
}

/// Parses a format name; throws std::invalid_argument listing the valid ones.
inline Format format_from_string(std::string_view name) {
  std::string valid;
  for (Format f : all_formats) {
    if (format_name(f) == name) return f;
    valid += (valid.empty() ? "" : ", ") + std::string(format_name(f));
  }
  throw std::invalid_argument("zeroth: unknown format '" + std::string(name) + "'; formats: " + valid);
}

namespace detail {

using data::detail::fail;
using data::detail::quote;
using data::detail::trim;

/// One `|filter` of a placeholder.
struct Filter {
  enum class Kind { strip_period, lower_first, upper_first, map } kind;
  std::string spelling;                                  ///< as written, for messages
  std::vector<std::pair<std::string, std::string>> map;  ///< from -> to, for Kind::map
};

/// A literal run of text, or a `{field|filter|...}` placeholder.
struct Piece {
  bool is_field = false;
  std::string text;  ///< the literal, or the field's name
  std::vector<Filter> filters;
  std::size_t index = 0;  ///< the field's position in the loader's list of values
};

inline constexpr std::string_view filter_list = "strip_period, lower_first, upper_first, map:from=to,...";

/// Parses one filter spelling into `out`; returns "" or the problem.
inline std::string parse_filter(std::string_view spelling, std::string_view field, Filter& out) {
  out.spelling = std::string(spelling);
  if (spelling == "strip_period") {
    out.kind = Filter::Kind::strip_period;
  } else if (spelling == "lower_first") {
    out.kind = Filter::Kind::lower_first;
  } else if (spelling == "upper_first") {
    out.kind = Filter::Kind::upper_first;
  } else if (spelling.starts_with("map:")) {
    out.kind = Filter::Kind::map;
    std::string_view rest = spelling.substr(4);
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view entry = rest.substr(0, comma);
      const std::size_t eq = entry.find('=');
      if (eq == std::string_view::npos)
        return "has filter '" + out.spelling + "' whose entry '" + std::string(entry) + "' has no '=' (write from=to)";
      std::string from(entry.substr(0, eq));
      for (const auto& [f, t] : out.map)
        if (f == from) return "has filter '" + out.spelling + "' that maps '" + from + "' twice";
      out.map.emplace_back(std::move(from), std::string(entry.substr(eq + 1)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  } else {
    return "uses unknown filter '" + std::string(spelling) + "' on field '" + std::string(field) +
           "' (filters: " + std::string(filter_list) + ")";
  }
  return {};
}

/// Parses a template: `{field}` or `{field|filter|...}` placeholders, `{{` and `}}` for literal braces. Returns "" or
/// the problem, phrased to follow the template's name ("has an unmatched '}' at byte 7 ...").
inline std::string parse_template(std::string_view text, std::vector<Piece>& out) {
  out.clear();
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) out.push_back({false, std::move(literal), {}, 0});
    literal.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      return "has an unmatched '}' at byte " + std::to_string(i) + " (write '}}' for a literal brace)";
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    const std::size_t close = text.find_first_of("{}", i + 1);
    if (close == std::string_view::npos || text[close] == '{')
      return "has an unclosed '{' at byte " + std::to_string(i) + " (write '{{' for a literal brace)";
    std::string_view inner = text.substr(i + 1, close - i - 1);
    const std::size_t bar = inner.find('|');
    const std::string_view field = trim(inner.substr(0, bar));
    if (field.empty()) return "has a placeholder without a field name at byte " + std::to_string(i);
    Piece p{true, std::string(field), {}, 0};
    if (bar != std::string_view::npos)
      for (std::string_view rest = inner.substr(bar + 1);;) {
        const std::size_t next = rest.find('|');
        Filter f;
        if (auto problem = parse_filter(trim(rest.substr(0, next)), field, f); !problem.empty()) return problem;
        p.filters.push_back(std::move(f));
        if (next == std::string_view::npos) break;
        rest.remove_prefix(next + 1);
      }
    flush();
    out.push_back(std::move(p));
    i = close;
  }
  flush();
  return {};
}

/// `value` through `f`; nullopt when a map has no entry for it.
inline std::optional<std::string> apply(const Filter& f, std::string value) {
  switch (f.kind) {
    case Filter::Kind::strip_period:
      while (!value.empty() && (value.back() == '.' || value.back() == ' ')) value.pop_back();
      return value;
    case Filter::Kind::lower_first:
      if (!value.empty()) value[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(value[0])));
      return value;
    case Filter::Kind::upper_first:
      if (!value.empty()) value[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(value[0])));
      return value;
    case Filter::Kind::map:
      for (const auto& [from, to] : f.map)
        if (from == value) return to;
      return std::nullopt;
  }
  return value;
}


/// "a, b, c".
inline std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace detail

/// A task as data: where its values come from, how they become model input, and what each class is called.
///   zeroth::tasks::TaskSpec sst5{.name = "sst5", .format = zeroth::tasks::Format::label_text,
///                                .labels = {"0", "1", "2", "3", "4"}, .template_ = "{text} It was",
///                                .verbalizers = {" terrible", " bad", " okay", " good", " great"}};
struct TaskSpec {
  std::string name{};                 ///< for messages and run folders
  Format format = Format::tsv;        ///< the data file's layout
  std::string label_field = "label";  ///< the field (column, JSON key) holding the label
  std::vector<std::string> labels{};  ///< the file's value of each class, in class order; empty: see infer_labels
  std::string template_{};            ///< the model's input text: a causal LM's context, an encoder's first segment
  std::string template_b{};           ///< an encoder's second segment (e.g. "{hypothesis}"); empty = a single text
  std::vector<std::string> verbalizers{};  ///< one template per class: a causal LM's continuation, an encoder's label

  /// Every template with its key for messages: {"template", template_}, {"template_b", template_b} (when not
  /// empty), {"verbalizers[0]", verbalizers[0]}, ...
  std::vector<std::pair<std::string, const std::string*>> named_templates() const {
    std::vector<std::pair<std::string, const std::string*>> out{{"template", &template_}};
    if (!template_b.empty()) out.emplace_back("template_b", &template_b);
    for (std::size_t i = 0; i < verbalizers.size(); ++i)
      out.emplace_back("verbalizers[" + std::to_string(i) + "]", &verbalizers[i]);
    return out;
  }

  /// The fields the task reads: those the templates name, in order of first use, then `label_field`.
  std::vector<std::string> fields() const {
    std::vector<std::string> out;
    std::vector<detail::Piece> pieces;
    for (const auto& [key, text] : named_templates()) {
      detail::parse_template(*text, pieces);
      for (const auto& p : pieces)
        if (p.is_field && std::find(out.begin(), out.end(), p.text) == out.end()) out.push_back(p.text);
    }
    if (std::find(out.begin(), out.end(), label_field) == out.end()) out.push_back(label_field);
    return out;
  }

  /// The number of classes: labels.size(), or verbalizers.size() while the labels are still to be inferred.
  int num_classes() const { return static_cast<int>(labels.empty() ? verbalizers.size() : labels.size()); }

  /// Ceres style: true when valid, else false with `error` naming the offending field. Labels may be empty when
  /// there are verbalizers (infer_labels fills them from the training file; `load` needs them).
  bool is_valid(std::string* error) const {
    auto fail = [&](const std::string& m) {
      if (error) *error = m;
      return false;
    };
    if (name.empty()) return fail("'name' is empty");
    if (label_field.empty()) return fail("'label_field' is empty");
    if (template_.empty()) return fail("'template' is empty");
    const auto all = fields();
    const std::string* text_field = nullptr;  // label_text's one text field
    for (const auto& f : all)
      if (f != label_field && !text_field) text_field = &f;
    std::vector<detail::Piece> pieces;
    for (const auto& [key, text] : named_templates()) {
      if (text->empty()) return fail("'" + key + "' is empty");
      if (auto problem = detail::parse_template(*text, pieces); !problem.empty())
        return fail("'" + key + "' " + problem);
      if (key == "template" && std::none_of(pieces.begin(), pieces.end(), [](auto& p) { return p.is_field; }))
        return fail("'template' names no field (write {column} where a value goes)");
      if (format == Format::label_text || format == Format::tsv_or_label_text)
        for (const auto& p : pieces)
          if (p.is_field && p.text != label_field && p.text != *text_field)
            return fail("'" + key + "' names field '" + p.text + "', but a " + std::string(format_name(format)) +
                        " file without a header has one text field besides the label ('" + *text_field + "')");
    }
    if (labels.empty() && verbalizers.empty())
      return fail(
          "'labels' and 'verbalizers' are both empty: list the file's label values (or one verbalizer per "
          "class, and fill 'labels' from infer_labels)");
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i].empty()) return fail("'labels[" + std::to_string(i) + "]' is empty");
      for (std::size_t j = 0; j < i; ++j)
        if (labels[j] == labels[i]) return fail("'labels' lists '" + labels[i] + "' twice");
    }
    if (!labels.empty() && !verbalizers.empty() && labels.size() != verbalizers.size())
      return fail("'verbalizers' has " + std::to_string(verbalizers.size()) + " entries but 'labels' has " +
                  std::to_string(labels.size()));
    if (num_classes() < 2)
      return fail(std::string(labels.empty() ? "'verbalizers'" : "'labels'") + " has 1 class; a task needs at least 2");
    return true;
  }

  /// Throws std::invalid_argument("zeroth: task '<name>': <problem>") when not valid.
  void validate() const {
    std::string e;
    if (!is_valid(&e)) throw std::invalid_argument("zeroth: task '" + name + "': " + e);
  }

  bool operator==(const TaskSpec&) const = default;
};

/// One row of a data file, rendered by a TaskSpec.
struct Item {
  std::string text{};                     ///< `template_` rendered: a causal LM's context, an encoder's first segment
  std::string text_b{};                   ///< `template_b` rendered; empty when the spec has none
  std::vector<std::string> candidates{};  ///< `verbalizers` rendered, one per class (empty when the spec has none)
  int label = data::unlabelled;           ///< class index (position of the file's value in `labels`), or unlabelled
  std::size_t line = 0;                   ///< 1-based line of the source file where the row starts
};

namespace detail {

/// Which template first names `field`, for messages: "'template'", or "'label_field'".
inline std::string named_by(const TaskSpec& spec, const std::string& field) {
  std::vector<Piece> pieces;
  for (const auto& [key, text] : spec.named_templates()) {
    parse_template(*text, pieces);
    for (const auto& p : pieces)
      if (p.is_field && p.text == field) return "'" + key + "'";
  }
  return "'label_field'";
}

/// Splits `line` at `sep`.
inline std::vector<std::string_view> split(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    const std::size_t end = line.find(sep, start);
    out.push_back(line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

/// One CSV record and the line it starts on.
struct CsvRecord {
  std::vector<std::string> fields;
  std::size_t line;
  bool blank;  ///< an empty or all-space line
};

/// Parses RFC 4180 CSV: fields separated by commas, records by LF or CRLF; a field in double quotes may hold commas,
/// newlines and doubled quotes. Spaces around a quoted field are ignored; a quote inside an unquoted field is literal.
inline std::vector<CsvRecord> parse_csv(std::string_view bytes, const std::filesystem::path& path) {
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  while (!bytes.empty() &&
         (bytes.back() == '\n' || bytes.back() == '\r' || bytes.back() == ' ' || bytes.back() == '\t'))
    bytes.remove_suffix(1);
  std::vector<CsvRecord> out;
  std::size_t line = 1, i = 0;
  const std::size_t n = bytes.size();
  while (i < n) {
    CsvRecord rec{{}, line, false};
    bool any_quoted = false;
    for (;;) {  // one field per pass
      std::size_t j = i;
      while (j < n && (bytes[j] == ' ' || bytes[j] == '\t')) ++j;
      std::string field;
      if (j < n && bytes[j] == '"') {
        any_quoted = true;
        const std::size_t open_line = line;
        for (++j;; ++j) {
          if (j >= n) fail(path, open_line, "quoted field is not closed (a '\"' opened on this line has no match)");
          if (bytes[j] == '"') {
            if (j + 1 < n && bytes[j + 1] == '"') {
              field += '"';
              ++j;
              continue;
            }
            break;
          }
          if (bytes[j] == '\n') ++line;
          field += bytes[j];
        }
        ++j;  // past the closing quote
        while (j < n && (bytes[j] == ' ' || bytes[j] == '\t')) ++j;
        if (j < n && bytes[j] != ',' && bytes[j] != '\n' && !(bytes[j] == '\r' && j + 1 < n && bytes[j + 1] == '\n'))
          fail(path, line,
               "unexpected " + quote(bytes.substr(j, 1)) + " after a closing quote (double a '\"' inside quotes)");
      } else {
        j = i;
        while (j < n && bytes[j] != ',' && bytes[j] != '\n') ++j;
        std::string_view raw = bytes.substr(i, j - i);
        if (j < n && bytes[j] == '\n' && raw.ends_with('\r')) raw.remove_suffix(1);
        if (j >= n && raw.ends_with('\r')) raw.remove_suffix(1);
        field = std::string(raw);
      }
      rec.fields.push_back(std::move(field));
      if (j < n && bytes[j] == ',') {
        i = j + 1;
        continue;
      }
      if (j < n && bytes[j] == '\r') ++j;
      if (j < n && bytes[j] == '\n') {
        ++j;
        ++line;
      }
      i = j;
      break;
    }
    rec.blank = !any_quoted && rec.fields.size() == 1 && trim(rec.fields[0]).empty();
    out.push_back(std::move(rec));
  }
  return out;
}

/// The value of one JSON field as text: strings as they are, booleans "false"/"true", integers in decimal.
inline std::string json_value(const nlohmann::json& v, const std::string& name, const std::filesystem::path& path,
                              std::size_t line) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  fail(path, line, "field '" + name + "' must be a string, boolean or integer, got " + std::string(v.type_name()));
}

/// Checks a field's value: not empty, UTF-8, no NUL byte.
inline void check_value(const std::string& value, const std::string& name, const std::filesystem::path& path,
                        std::size_t line) {
  if (value.empty()) fail(path, line, "field '" + name + "' is empty");
  if (const std::size_t at = data::detail::utf8_error(value); at != std::string::npos) {
    const std::string after =
        at ? " (after " + quote(value.substr(at > 40 ? at - 40 : 0, std::min<std::size_t>(at, 40))) + ")" : "";
    if (value[at] == '\0')
      fail(path, line, "field '" + name + "' has a NUL byte at offset " + std::to_string(at) + " of its value" + after);
    static constexpr char hex[] = "0123456789abcdef";
    const auto b = static_cast<unsigned char>(value[at]);
    fail(path, line,
         "field '" + name + "' is not UTF-8: byte 0x" + hex[b >> 4] + hex[b & 15] + " at offset " + std::to_string(at) +
             " of its value" + after);
  }
}

/// Reads every row of `path` in `spec.format` and calls `on_row(values, has_label, line)`, `values` parallel to
/// `names` (checked: non-empty UTF-8). When `label_optional`, a row may lack the label (jsonl: no such key; tsv/csv:
/// no such column, or an empty value); its label slot is then "" and has_label false.
template <class OnRow>
void read_rows(const TaskSpec& spec, const std::filesystem::path& path, const std::vector<std::string>& names,
               bool label_optional, OnRow&& on_row) {
  const std::size_t npos = std::string::npos;
  std::size_t label = npos;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == spec.label_field) label = i;
  std::vector<std::string> values(names.size());
  std::size_t rows = 0;
  // Delimited rows: `columns[i]` is the column of names[i] (npos: an absent label), `cells` the row's cells.
  std::vector<std::size_t> columns;
  auto header = [&](const std::vector<std::string>& head) {
    columns.assign(names.size(), npos);
    for (std::size_t i = 0; i < names.size(); ++i) {
      for (std::size_t c = 0; c < head.size(); ++c)
        if (head[c] == names[i]) {
          if (columns[i] != npos) fail(path, 1, "header has column '" + names[i] + "' twice");
          columns[i] = c;
        }
      if (columns[i] == npos && !(i == label && label_optional))
        fail(path, 1,
             "header has no column '" + names[i] + "' named by " + named_by(spec, names[i]) +
                 " (columns: " + join(head) + ")");
    }
  };
  auto row = [&](const auto& cells, std::size_t width, const char* what, std::size_t line) {
    if (cells.size() != width)
      fail(path, line,
           "expected " + std::to_string(width) + " " + what + "-separated columns, found " +
               std::to_string(cells.size()));
    bool has_label = label != npos;
    for (std::size_t i = 0; i < names.size(); ++i) {
      values[i] = columns[i] == npos ? std::string() : std::string(trim(cells[columns[i]]));
      if (i == label && label_optional && values[i].empty()) {
        has_label = false;
        continue;
      }
      check_value(values[i], names[i], path, line);
    }
    ++rows;
    on_row(values, has_label, line);
  };

  Format format = spec.format;
  if (format == Format::csv) {
    const data::detail::TextFile file = data::detail::read_lines(path);  // for its bytes; records may span lines
    const auto records = parse_csv(file.bytes, path);
    if (records.empty()) fail(path, 0, "no examples (empty file)");
    std::vector<std::string> head;
    for (const auto& f : records[0].fields) head.emplace_back(trim(f));
    header(head);
    for (std::size_t r = 1; r < records.size(); ++r) {
      if (records[r].blank) fail(path, records[r].line, "empty line");
      row(records[r].fields, head.size(), "comma", records[r].line);
    }
    if (rows == 0) fail(path, 0, "no examples (header only)");
    return;
  }

  const data::detail::TextFile file = data::detail::read_lines(path);
  if (file.lines.empty()) fail(path, 0, "no examples (empty file)");
  if (format == Format::tsv_or_label_text) {
    const auto first = split(file.lines.front().text, '\t');
    const bool has_header =
        std::any_of(first.begin(), first.end(), [&](auto c) { return trim(c) == spec.label_field; });
    format = has_header ? Format::tsv : Format::label_text;
  }
  if (format == Format::tsv) {
    std::vector<std::string> head;
    for (auto c : split(file.lines.front().text, '\t')) head.emplace_back(trim(c));
    header(head);
    for (std::size_t l = 1; l < file.lines.size(); ++l) {
      const auto [text, n] = file.lines[l];
      if (trim(text).empty()) fail(path, n, "empty line");
      row(split(text, '\t'), head.size(), "tab", n);
    }
    if (rows == 0) fail(path, 0, "no examples (header only)");
  } else if (format == Format::label_text) {
    const bool tabs = file.lines.front().text.find('\t') != std::string_view::npos;
    for (const auto [text, n] : file.lines) {
      if (trim(text).empty()) fail(path, n, "empty line");
      std::size_t cut;
      if (tabs) {
        const auto cells = split(text, '\t');
        if (cells.size() != 2)
          fail(path, n, "expected 2 tab-separated columns (label, text), found " + std::to_string(cells.size()));
        cut = cells[0].size();
      } else {
        cut = text.find(' ');
        if (cut == std::string_view::npos) fail(path, n, "expected 'label text', found " + quote(text));
      }
      for (std::size_t i = 0; i < names.size(); ++i) {
        values[i] = std::string(trim(i == label ? text.substr(0, cut) : text.substr(cut + 1)));
        check_value(values[i], names[i], path, n);
      }
      ++rows;
      on_row(values, label != npos, n);
    }
  } else {  // jsonl
    for (const auto [text, n] : file.lines) {
      if (trim(text).empty()) fail(path, n, "empty line");
      nlohmann::json json;
      try {
        json = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception& e) {
        const std::string what = e.what();  // "[json.exception...] parse error at line 1, column C: reason"
        const std::size_t col = what.find("column ");
        fail(path, n, "invalid JSON" + (col == std::string::npos ? ": " + what : " at " + what.substr(col)));
      }
      if (!json.is_object()) fail(path, n, std::string("expected a JSON object, got ") + json.type_name());
      bool has_label = label != npos;
      for (std::size_t i = 0; i < names.size(); ++i) {
        const auto it = json.find(names[i]);
        if (it == json.end()) {
          if (i == label && label_optional) {
            values[i].clear();
            has_label = false;
            continue;
          }
          fail(path, n, "missing field '" + names[i] + "'");
        }
        values[i] = json_value(*it, names[i], path, n);
        check_value(values[i], names[i], path, n);
      }
      ++rows;
      on_row(values, has_label, n);
    }
  }
}

/// A template compiled against the loader's list of field names.
inline std::vector<Piece> compile(const std::string& text, const std::vector<std::string>& names) {
  std::vector<Piece> pieces;
  parse_template(text, pieces);  // the spec was validated
  for (auto& p : pieces)
    if (p.is_field) p.index = static_cast<std::size_t>(std::find(names.begin(), names.end(), p.text) - names.begin());
  return pieces;
}

/// Renders compiled `pieces` with one row's `values`.
inline std::string render(const std::vector<Piece>& pieces, const std::vector<std::string>& values,
                          const std::string& key, const std::filesystem::path& path, std::size_t line) {
  std::string out;
  for (const auto& p : pieces) {
    if (!p.is_field) {
      out += p.text;
      continue;
    }
    std::string v = values[p.index];
    for (const auto& f : p.filters) {
      auto r = apply(f, std::move(v));
      if (!r)
        fail(path, line,
             "field '" + p.text + "' value " + quote(values[p.index]) + " has no entry in filter '" + f.spelling +
                 "' of '" + key + "'");
      v = std::move(*r);
    }
    out += v;
  }
  return out;
}

/// Whether `s` is a decimal integer that fits in a long long; stores it in `v`.
inline bool parse_integer(const std::string& s, long long& v) {
  const char* end = s.data() + s.size();
  const auto [p, ec] = std::from_chars(s.data(), end, v);
  return ec == std::errc{} && p == end;
}

}  // namespace detail

/// The label values of `path` (normally the training file), sorted: numerically when all are integers, else by bytes.
/// Fill `spec.labels` with them when the spec leaves them empty, and log them: the order fixes the class indices.
/// Throws std::runtime_error naming file:line on a malformed row.
///   spec.labels = zeroth::tasks::infer_labels(spec, "train.tsv");  // e.g. {"0", "1", "2", "3", "4"}
inline std::vector<std::string> infer_labels(const TaskSpec& spec, const std::filesystem::path& path) {
  if (spec.label_field.empty()) throw std::invalid_argument("zeroth: task '" + spec.name + "': 'label_field' is empty");
  std::vector<std::string> out;
  detail::read_rows(spec, path, {spec.label_field}, false,
                    [&](const std::vector<std::string>& values, bool, std::size_t) {
                      if (std::find(out.begin(), out.end(), values[0]) == out.end()) out.push_back(values[0]);
                    });
  long long a = 0, b = 0;
  const bool numeric =
      std::all_of(out.begin(), out.end(), [&](const std::string& s) { return detail::parse_integer(s, a); });
  std::sort(out.begin(), out.end(), [&](const std::string& x, const std::string& y) {
    if (numeric && detail::parse_integer(x, a) && detail::parse_integer(y, b) && a != b) return a < b;
    return x < y;
  });
  return out;
}

/// Reads `path` and renders each row with `spec` (validated first; its labels must be filled). With `require_labels`
/// every row needs a label; without, a row may lack one (a test set) and gets data::unlabelled. Throws
/// std::invalid_argument for an invalid spec, std::runtime_error naming file:line, field and value for a row that does
/// not fit ("zeroth: data.tsv:17: field 'label' value '7' is not one of 0, 1, 2, 3, 4").
///   auto dev = zeroth::tasks::load(zeroth::tasks::preset("rte", ModelKind::causal_lm), "superglue/RTE/val.jsonl");
inline std::vector<Item> load(const TaskSpec& spec, const std::filesystem::path& path, bool require_labels = true) {
  spec.validate();
  if (spec.labels.empty())
    throw std::invalid_argument("zeroth: task '" + spec.name +
                                "': 'labels' is empty; fill it from infer_labels(spec, training file) before loading");
  const std::vector<std::string> names = spec.fields();
  const auto text = detail::compile(spec.template_, names);
  const auto text_b = detail::compile(spec.template_b, names);
  std::vector<std::vector<detail::Piece>> verbalizers;
  for (const auto& v : spec.verbalizers) verbalizers.push_back(detail::compile(v, names));
  std::unordered_map<std::string, int> class_of;
  for (std::size_t c = 0; c < spec.labels.size(); ++c) class_of.emplace(spec.labels[c], static_cast<int>(c));
  const std::size_t label =
      static_cast<std::size_t>(std::find(names.begin(), names.end(), spec.label_field) - names.begin());

  std::vector<Item> out;
  detail::read_rows(spec, path, names, !require_labels,
                    [&](const std::vector<std::string>& values, bool has_label, std::size_t line) {
                      Item it;
                      it.line = line;
                      if (has_label) {
                        const auto c = class_of.find(values[label]);
                        if (c == class_of.end())
                          detail::fail(path, line,
                                       "field '" + spec.label_field + "' value " + detail::quote(values[label]) +
                                           " is not one of " + detail::join(spec.labels));
                        it.label = c->second;
                      }
                      it.text = detail::render(text, values, "template", path, line);
                      if (!spec.template_b.empty())
                        it.text_b = detail::render(text_b, values, "template_b", path, line);
                      for (std::size_t v = 0; v < verbalizers.size(); ++v)
                        it.candidates.push_back(detail::render(verbalizers[v], values,
                                                               "verbalizers[" + std::to_string(v) + "]", path, line));
                      out.push_back(std::move(it));
                    });
  return out;
}

/// The spec as JSON, in the keys spec_from_json reads (for a run folder's task.json).
inline nlohmann::json spec_to_json(const TaskSpec& spec) {
  return {{"name", spec.name},
          {"format", std::string(format_name(spec.format))},
          {"label_field", spec.label_field},
          {"labels", spec.labels},
          {"template", spec.template_},
          {"template_b", spec.template_b},
          {"verbalizers", spec.verbalizers}};
}

/// A spec from JSON: keys name, format, template (required), label_field, labels, template_b, verbalizers (optional);
/// label values may be strings, booleans or integers, as in the data. The result is validated. Throws
/// std::invalid_argument("zeroth: <source_name>: <problem>") naming an unknown key, a missing one, or a wrong type.
///   auto spec = spec_from_json(nlohmann::json::parse(R"({"name": "sst5", "format": "label_text", ...})"), "sst5");
inline TaskSpec spec_from_json(const nlohmann::json& json, std::string_view source_name) {
  auto fail = [&](const std::string& m) -> void {
    throw std::invalid_argument("zeroth: " + std::string(source_name) + ": " + m);
  };
  if (!json.is_object()) fail(std::string("a task spec must be a JSON object, got ") + json.type_name());
  static const std::vector<std::string> keys{"name",     "format",     "label_field", "labels",
                                             "template", "template_b", "verbalizers"};
  for (const auto& [key, value] : json.items())
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      fail("unknown key '" + key + "' (keys: " + detail::join(keys) + ")");
  auto string = [&](const char* key, bool required, std::string& out) {
    const auto it = json.find(key);
    if (it == json.end()) {
      if (required) fail(std::string("missing key '") + key + "'");
      return;
    }
    if (!it->is_string()) fail(std::string("'") + key + "' must be a string, got " + it->type_name());
    out = it->get<std::string>();
  };
  auto list = [&](const char* key, bool scalars, std::vector<std::string>& out) {
    const auto it = json.find(key);
    if (it == json.end()) return;
    if (!it->is_array()) fail(std::string("'") + key + "' must be an array of strings, got " + it->type_name());
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& v = (*it)[i];
      const std::string at = std::string("'") + key + "[" + std::to_string(i) + "]'";
      if (v.is_string())
        out.push_back(v.get<std::string>());
      else if (scalars && v.is_boolean())
        out.push_back(v.get<bool>() ? "true" : "false");
      else if (scalars && v.is_number_unsigned())
        out.push_back(std::to_string(v.get<std::uint64_t>()));
      else if (scalars && v.is_number_integer())
        out.push_back(std::to_string(v.get<std::int64_t>()));
      else
        fail(at + " must be a string" + (scalars ? ", boolean or integer" : "") + ", got " + v.type_name());
    }
  };
  TaskSpec spec;
  string("name", true, spec.name);
  std::string format;
  string("format", true, format);
  try {
    spec.format = format_from_string(format);
  } catch (const std::invalid_argument&) {
    std::string valid;
    for (Format f : all_formats) valid += (valid.empty() ? "" : ", ") + std::string(format_name(f));
    fail("'format' " + detail::quote(format) + " is not one of " + valid);
  }
  string("label_field", false, spec.label_field);
  list("labels", true, spec.labels);
  string("template", true, spec.template_);
  string("template_b", false, spec.template_b);
  list("verbalizers", false, spec.verbalizers);
  std::string error;
  if (!spec.is_valid(&error)) fail(error);
  return spec;
}

/// Reads a spec file (JSON; `//` and `/* */` comments allowed) for `--task-file`. Throws std::runtime_error naming the
/// file when it cannot be read or parsed, std::invalid_argument (from spec_from_json) when its content is wrong.
///   auto spec = zeroth::tasks::load_spec_file("sst5.json");
inline TaskSpec load_spec_file(const std::filesystem::path& path) {
  const data::detail::TextFile file = data::detail::read_lines(path);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(file.bytes, nullptr, true, true);
  } catch (const nlohmann::json::exception& e) {
    const std::string what = e.what();  // "[json.exception...] parse error at line L, column C: reason"
    const std::size_t at = what.find("at line ");
    detail::fail(path, 0, "invalid JSON" + (at == std::string::npos ? ": " + what : " " + what.substr(at)));
  }
  return spec_from_json(json, path.string());
}

}  // namespace zeroth::tasks
