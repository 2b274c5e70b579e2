#pragma once
// Small text helpers shared by the parsers of config files, job files and CSVs.
#include <chrono>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace crimegraph {

std::string trim(const std::string& text);
/// ASCII letters of `text` in lower case.
std::string to_lower(std::string text);

/// A finite number, the whole of `text`; throws ConfigError "<where>: '<text>' is not a number".
double parse_number(const std::string& text, const std::string& where);

/// One `key = value` line of an INI section, with its line number for messages.
struct IniEntry {
  std::string key, value;
  int line = 0;
};
/// The entries of `[section]` in INI text (comments start with # or ;). A line without '=' in
/// that section is a ConfigError naming origin:line.
std::vector<IniEntry> ini_section(const std::string& text, const std::string& section, const std::string& origin);
/// The whole text of a file; throws ConfigError "cannot read <what> '<path>'", and for a
/// folder or a file with a NUL byte (not text).
std::string read_text_file(const std::string& path, const std::string& what);

/// Writes a file the safe way: `write` fills "<path>.tmp-<pid>", which is then renamed over
/// `path`; on any failure the temporary file is removed and IoError names the file.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

/// A moment given as "+SECONDS" (from now), "@SECONDS" (since 1970, UTC), "YYYY-MM-DDTHH:MM:SS"
/// (local time, as squeue prints a job's end) or the same with a trailing Z (UTC); throws
/// ConfigError "<what>: ..." otherwise.
std::chrono::system_clock::time_point parse_time_point(const std::string& text, const std::string& what);

/// Refuses, before any work, an output file that cannot be written: a path that is a folder,
/// or whose folder is missing (unless `folders_made`: then its nearest existing folder) or not
/// writable. ConfigError names `what` (e.g. "--save").
void check_output_path(const std::string& path, const std::string& what, bool folders_made = false);

/// A CSV field: as it is, or quoted ("...", quotes doubled) when it holds a comma, quote or newline.
std::string csv_field(const std::string& text);
/// A JSON string literal, with quotes, backslashes and control characters escaped.
std::string json_string(const std::string& text);

/// The current UTC time as ISO 8601, e.g. 2026-11-28T10:29:45Z.
std::string utc_timestamp();

}  // namespace crimegraph
