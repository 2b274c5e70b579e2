#include "crimegraph/io/csv.hpp"

#include <fstream>

#include "crimegraph/error.hpp"

namespace crimegraph {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
}  // namespace

bool split_csv_line(std::string_view line, std::vector<std::string_view>& fields, char delimiter) {
  fields.clear();
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t i = 0;
  const std::size_t n = line.size();
  while (true) {
    if (i < n && line[i] == '"') {
      const std::size_t start = ++i;
      for (;;) {
        const auto q = line.find('"', i);
        if (q == std::string_view::npos) return false;
        if (q + 1 < n && line[q + 1] == '"') {
          i = q + 2;
          continue;
        }
        fields.push_back(line.substr(start, q - start));
        i = q + 1;
        break;
      }
      if (i < n && line[i] != delimiter) {
        // Text after a closing quote: keep the field as written up to the delimiter.
        const auto d = line.find(delimiter, i);
        i = d == std::string_view::npos ? n : d;
      }
    } else {
      const auto d = line.find(delimiter, i);
      const auto end = d == std::string_view::npos ? n : d;
      fields.push_back(line.substr(i, end - i));
      i = end;
    }
    if (i >= n) break;
    ++i;  // skip the delimiter
    if (i == n) {
      fields.emplace_back();
      break;
    }
  }
  return true;
}

int column_index(const std::vector<std::string_view>& header, std::string_view name) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    auto h = trim(header[i]);
    if (i == 0 && h.size() >= 3 && h.substr(0, 3) == "\xEF\xBB\xBF") h.remove_prefix(3);  // UTF-8 BOM
    if (h == name) return static_cast<int>(i);
  }
  return -1;
}

std::size_t CsvTable::column(const std::string& name) const {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  throw DataError("'" + path + "' has no column '" + name + "'");
}

CsvTable read_csv_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read '" + path + "'");
  CsvTable t;
  t.path = path;
  std::string line;
  std::vector<std::string_view> fields;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line == "\r") continue;
    if (!split_csv_line(line, fields)) throw DataError("'" + path + "' line " + std::to_string(lineno) + ": unterminated quote");
    std::vector<std::string> row;
    for (auto f : fields) row.emplace_back(trim(f));
    if (t.header.empty()) {
      t.header = std::move(row);
    } else {
      if (row.size() != t.header.size()) {
        throw DataError("'" + path + "' line " + std::to_string(lineno) + ": " + std::to_string(row.size()) +
                        " fields, the header has " + std::to_string(t.header.size()));
      }
      t.rows.push_back(std::move(row));
    }
  }
  if (t.header.empty()) throw DataError("'" + path + "' is empty");
  return t;
}

}  // namespace crimegraph
