#pragma once
// Minimal, fast CSV splitting: fields are views into the line; a quoted field loses its outer
// quotes (a doubled quote inside stays doubled, which no field we parse contains).
#include <string>
#include <string_view>
#include <vector>

namespace crimegraph {

/// Splits one line (without its newline). Returns false for an unterminated quote.
bool split_csv_line(std::string_view line, std::vector<std::string_view>& fields, char delimiter = ',');

/// Index of `name` in a header (exact match after trimming spaces), -1 if absent.
int column_index(const std::vector<std::string_view>& header, std::string_view name);

/// Reads a whole small CSV file (header + rows); throws IoError/DataError naming the file.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  /// Column index by name; throws DataError naming the file when absent.
  std::size_t column(const std::string& name) const;
  std::string path;
};
CsvTable read_csv_table(const std::string& path);

}  // namespace crimegraph
