#include "crimegraph/io/text.hpp"

#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>

#include <unistd.h>

#include "crimegraph/error.hpp"

namespace crimegraph {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string to_lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

double parse_number(const std::string& text, const std::string& where) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v)) throw ConfigError(where + ": '" + text + "' is not a number");
  return v;
}

std::vector<IniEntry> ini_section(const std::string& text, const std::string& section, const std::string& origin) {
  std::istringstream in(text);
  std::string line, current;
  std::vector<IniEntry> entries;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const auto comment = line.find_first_of("#;");
    if (comment != std::string::npos) line = line.substr(0, comment);
    line = trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      current = trim(line.substr(1, line.find(']') - 1));
      continue;
    }
    if (current != section) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw ConfigError(origin + ":" + std::to_string(lineno) + ": expected 'name = value'");
    entries.push_back({trim(line.substr(0, eq)), trim(line.substr(eq + 1)), lineno});
  }
  return entries;
}

std::string read_text_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ConfigError(what + " '" + path + "' is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read " + what + " '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw ConfigError("cannot read " + what + " '" + path + "'");
  std::string text = ss.str();
  if (const auto nul = text.find('\0'); nul != std::string::npos) {
    throw ConfigError(what + " '" + path + "' is not a text file (a NUL byte at offset " + std::to_string(nul) + ")");
  }
  return text;
}

std::string utc_timestamp() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}


std::chrono::system_clock::time_point parse_time_point(const std::string& text, const std::string& what) {
  using Clock = std::chrono::system_clock;
  const auto bad = [&] {
    return ConfigError(what + ": '" + text + "' is not +SECONDS, @SECONDS or YYYY-MM-DDTHH:MM:SS[Z]");
  };
  if (!text.empty() && (text[0] == '+' || text[0] == '@')) {
    double seconds = 0.0;
    try {
      seconds = parse_number(text.substr(1), what);
    } catch (const ConfigError&) {
      throw bad();
    }
    // Found by fuzz/run.sh: the clock counts nanoseconds in 64 bits (about 292 years either way
    // of 1970), and the conversion overflowed beyond them; 4e9 s keeps now + offset inside.
    if (!(std::abs(seconds) <= 4e9)) throw ConfigError(what + ": '" + text + "' is too far away (more than 4e9 s)");
    const auto offset = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    return (text[0] == '+' ? Clock::now() : Clock::time_point{}) + offset;
  }
  static const std::regex calendar(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z?)");
  if (!std::regex_match(text, calendar)) throw bad();
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) throw bad();
  tm.tm_isdst = -1;
  const std::time_t t = text.back() == 'Z' ? timegm(&tm) : std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) throw bad();
  return Clock::from_time_t(t);
}

void check_output_path(const std::string& path, const std::string& what, bool folders_made) {
  namespace fs = std::filesystem;
  if (path.empty()) throw ConfigError(what + ": no file name given");
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw ConfigError(what + " '" + path + "' is a folder; give a file name");
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  if (folders_made) {
    while (!fs::exists(folder, ec) && folder.has_parent_path() && folder != folder.parent_path()) folder = folder.parent_path();
  }
  if (!fs::is_directory(folder, ec)) {
    throw ConfigError(what + " '" + path + "': '" + folder.string() + "' " +
                      (fs::exists(folder, ec) ? "is not a folder" : "does not exist"));
  }
  if (::access(folder.c_str(), W_OK) != 0) {
    throw ConfigError(what + " '" + path + "': the folder '" + folder.string() + "' is not writable");
  }
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string json_string(const std::string& text) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (const unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += std::string("\\u00") + hex[c >> 4] + hex[c & 15];
        else out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw IoError("cannot write '" + path + "' (cannot create '" + tmp + "')");
      write(out);
      out.flush();
      if (!out) throw IoError("cannot write '" + path + "'");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw IoError("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

}  // namespace crimegraph
