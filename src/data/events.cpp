#include "crimegraph/data/events.hpp"

#include <spdlog/fmt/fmt.h>

#include <gdal/ogr_spatialref.h>
#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <memory>
#include <future>
#include <sstream>
#include <thread>

#include "crimegraph/data/calendar.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/checksum.hpp"
#include "crimegraph/io/csv.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/version.hpp"

namespace crimegraph {

// --- presets and columns -----------------------------------------------------------------------

CsvColumns csv_preset(const std::string& name) {
  if (name == "spotcrime") return {"Date", "Type", "Latitude", "Longitude", "auto"};
  if (name == "chicago") return {"Date", "Primary Type", "Latitude", "Longitude", "%m/%d/%Y %I:%M:%S %p"};
  if (name == "baltimore") return {"CrimeDateTime", "Description", "Latitude", "Longitude", "auto"};
  throw ConfigError("unknown CSV preset '" + name + "' (use spotcrime, chicago or baltimore)");
}

void apply_column_overrides(CsvColumns& c, const std::string& spec) {
  std::istringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw ConfigError("--columns: '" + item + "' is not role=Column");
    const auto role = item.substr(0, eq), column = item.substr(eq + 1);
    if (role == "date") c.date = column;
    else if (role == "type") c.type = column;
    else if (role == "lat") c.lat = column;
    else if (role == "lon") c.lon = column;
    else throw ConfigError("--columns: unknown role '" + role + "' (use date, type, lat, lon)");
  }
}

// --- dates -------------------------------------------------------------------------------------

namespace {
bool read_int(std::string_view& s, int min_digits, int max_digits, int& out) {
  int n = 0, v = 0;
  while (n < max_digits && n < static_cast<int>(s.size()) && std::isdigit(static_cast<unsigned char>(s[static_cast<std::size_t>(n)]))) {
    v = v * 10 + (s[static_cast<std::size_t>(n)] - '0');
    ++n;
  }
  if (n < min_digits) return false;
  s.remove_prefix(static_cast<std::size_t>(n));
  out = v;
  return true;
}
}  // namespace

bool parse_date(std::string_view s, std::string_view format, std::int32_t& day) {
  int y = -1, m = -1, d = -1, hour = 0, minute = 0, second = 0;
  bool twelve = false;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 == format.size()) {
      if (s.empty() || s.front() != format[i]) return false;
      s.remove_prefix(1);
      continue;
    }
    switch (format[++i]) {
      case 'Y': if (!read_int(s, 4, 4, y)) return false; break;
      case 'm': if (!read_int(s, 1, 2, m)) return false; break;
      case 'd': if (!read_int(s, 1, 2, d)) return false; break;
      case 'H': if (!read_int(s, 1, 2, hour)) return false; break;
      case 'I': if (!read_int(s, 1, 2, hour)) return false; twelve = true; break;
      case 'M': if (!read_int(s, 1, 2, minute)) return false; break;
      case 'S': if (!read_int(s, 1, 2, second)) return false; break;
      case 'p':
        if (s.size() < 2) return false;
        // AM/PM only validates: the hour does not change the calendar day.
        if (!((s[0] == 'A' || s[0] == 'a' || s[0] == 'P' || s[0] == 'p') && (s[1] == 'M' || s[1] == 'm'))) return false;
        s.remove_prefix(2);
        break;
      default: return false;
    }
  }
  if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1900 || y > 2200) return false;
  if (hour > (twelve ? 12 : 23) || minute > 59 || second > 60) return false;
  // Trailing text (seconds fractions, time zones) is allowed: only the calendar day counts.
  static constexpr int kDaysIn[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDaysIn[m - 1] || (m == 2 && d == 29 && !leap)) return false;  // 31 April and the like
  day = day_number_from_civil(y, m, d);
  return true;
}

namespace {
// The formats "auto" tries: only the calendar day matters, so times and zones may follow.
constexpr const char* kAutoDateFormats[] = {"%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y"};

// The first auto format that parses `text` (setting `day`), or nullptr.
const char* detect_date_format(std::string_view text, std::int32_t& day) {
  for (const char* f : kAutoDateFormats)
    if (parse_date(text, f, day)) return f;
  return nullptr;
}
}  // namespace

// --- categories --------------------------------------------------------------------------------

namespace {
bool contains_word(const std::string& text, const std::string& word) {
  for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    const bool left = at == 0 || !std::isalnum(static_cast<unsigned char>(text[at - 1]));
    const auto end = at + word.size();
    const bool right = end == text.size() || !std::isalnum(static_cast<unsigned char>(text[end]));
    if (left && right) return true;
  }
  return false;
}
}  // namespace

CategoryMap CategoryMap::original_study() {
  return parse("[categories]\nArrest = Arrest\nProperty = Arson, Burglary, Theft, Vandalism\n"
               "Violent = Assault, Robbery, Shooting\n",
               "original study categories");
}

CategoryMap CategoryMap::parse(const std::string& text, const std::string& origin) {
  CategoryMap m;
  for (const auto& entry : ini_section(text, "categories", origin)) {
    if (std::find(m.names_.begin(), m.names_.end(), entry.key) != m.names_.end()) {
      throw ConfigError(origin + ":" + std::to_string(entry.line) + ": category '" + entry.key +
                        "' is named twice (list all its keywords on one line)");
    }
    m.names_.push_back(entry.key);
    std::vector<std::string> words;
    std::istringstream ws(entry.value);
    for (std::string w; std::getline(ws, w, ',');) {
      if (!trim(w).empty()) words.push_back(to_lower(trim(w)));
    }
    if (words.empty()) {
      throw ConfigError(origin + ":" + std::to_string(entry.line) + ": category '" + entry.key + "' has no keywords");
    }
    m.keywords_.push_back(words);
  }
  if (m.names_.empty()) throw ConfigError(origin + ": no [categories] defined");
  if (std::find(m.names_.begin(), m.names_.end(), kLabelCategory) == m.names_.end()) {
    throw ConfigError(origin + ": a '" + std::string(kLabelCategory) + "' category is needed (it is the label)");
  }
  return m;
}

CategoryMap CategoryMap::from_file(const std::string& path) {
  return parse(read_text_file(path, "category file"), path);
}

int CategoryMap::classify(const std::string& type) {
  const auto it = cache_.find(type);
  if (it != cache_.end()) return it->second;
  const auto t = to_lower(trim(type));
  int found = -1;
  for (std::size_t c = 0; c < names_.size() && found < 0; ++c)
    for (const auto& w : keywords_[c])
      if (t == w) found = static_cast<int>(c);
  for (std::size_t c = 0; c < names_.size() && found < 0; ++c)
    for (const auto& w : keywords_[c])
      if (contains_word(t, w)) found = static_cast<int>(c);
  cache_.emplace(type, found);
  return found;
}

std::string CategoryMap::describe() const {
  std::string s;
  for (std::size_t c = 0; c < names_.size(); ++c) {
    s += (c ? "; " : "") + names_[c] + "=";
    for (std::size_t i = 0; i < keywords_[c].size(); ++i) s += (i ? "," : "") + keywords_[c][i];
  }
  return s;
}

// --- snapping ------------------------------------------------------------------------------------

namespace {

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    const int extra = (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (extra < 0 || i + static_cast<std::size_t>(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) >> 6) != 0x2) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

// A uniform grid over segment centroids or segment envelopes for nearest-segment queries.
class SnapIndex {
 public:
  SnapIndex(const StreetGraph& g, SnapMode mode) : g_(g), mode_(mode) {
    const auto n = static_cast<std::size_t>(g.node_count());
    minx_ = miny_ = std::numeric_limits<double>::infinity();
    double maxx = -minx_, maxy = -miny_;
    for (std::size_t i = 0; i < n; ++i) {
      minx_ = std::min(minx_, g.x[i]);
      miny_ = std::min(miny_, g.y[i]);
      maxx = std::max(maxx, g.x[i]);
      maxy = std::max(maxy, g.y[i]);
      if (mode == SnapMode::Segment) {
        const auto b = g.geometry[i].bounds();
        minx_ = std::min(minx_, b.minx), miny_ = std::min(miny_, b.miny), maxx = std::max(maxx, b.maxx), maxy = std::max(maxy, b.maxy);
      }
    }
    cell_ = std::max(10.0, std::sqrt(std::max(1.0, (maxx - minx_) * (maxy - miny_)) / std::max<std::size_t>(1, n)));
    cols_ = static_cast<std::int64_t>((maxx - minx_) / cell_) + 1;
    rows_ = static_cast<std::int64_t>((maxy - miny_) / cell_) + 1;
    cells_.resize(static_cast<std::size_t>(cols_ * rows_));
    for (std::size_t i = 0; i < n; ++i) {
      if (mode == SnapMode::Centroid) {
        cells_[static_cast<std::size_t>(cell_of(g.y[i], miny_, rows_) * cols_ + cell_of(g.x[i], minx_, cols_))].push_back(
            static_cast<std::int32_t>(i));
      } else {
        const auto b = g.geometry[i].bounds();
        for (auto r = cell_of(b.miny, miny_, rows_); r <= cell_of(b.maxy, miny_, rows_); ++r)
          for (auto c = cell_of(b.minx, minx_, cols_); c <= cell_of(b.maxx, minx_, cols_); ++c)
            cells_[static_cast<std::size_t>(r * cols_ + c)].push_back(static_cast<std::int32_t>(i));
      }
    }
  }

  /// The nearest segment and its distance.
  std::pair<std::int32_t, double> nearest(double x, double y) const {
    const auto cx = cell_of(x, minx_, cols_), cy = cell_of(y, miny_, rows_);
    std::int32_t best = -1;
    double best_d2 = std::numeric_limits<double>::infinity();
    const auto max_ring = std::max(cols_, rows_);
    for (std::int64_t ring = 0; ring <= max_ring; ++ring) {
      for (auto r = cy - ring; r <= cy + ring; ++r) {
        if (r < 0 || r >= rows_) continue;
        for (auto c = cx - ring; c <= cx + ring; ++c) {
          if (c < 0 || c >= cols_ || (std::abs(r - cy) != ring && std::abs(c - cx) != ring)) continue;
          for (auto i : cells_[static_cast<std::size_t>(r * cols_ + c)]) {
            const double d2 = mode_ == SnapMode::Centroid
                                  ? (g_.x[i] - x) * (g_.x[i] - x) + (g_.y[i] - y) * (g_.y[i] - y)
                                  : g_.geometry[static_cast<std::size_t>(i)].distance2(x, y);
            if (d2 < best_d2 || (d2 == best_d2 && i < best)) best_d2 = d2, best = i;
          }
        }
      }
      // Anything in ring + 1 is at least `ring` cells away (the point may sit anywhere in its cell).
      if (best >= 0 && std::sqrt(best_d2) <= static_cast<double>(ring) * cell_) break;
    }
    return {best, std::sqrt(best_d2)};
  }

 private:
  std::int64_t cell_of(double v, double min, std::int64_t count) const {
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor((v - min) / cell_)), 0, count - 1);
  }
  const StreetGraph& g_;
  SnapMode mode_;
  double minx_, miny_, cell_;
  std::int64_t cols_, rows_;
  std::vector<std::vector<std::int32_t>> cells_;
};

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};

}  // namespace

// --- import --------------------------------------------------------------------------------------

CrimeDataset import_events(const StreetGraph& graph, CategoryMap categories, const EventImportOptions& o,
                           ImportReport& report) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.inputs.empty()) throw ConfigError("no input CSV files");
  if (o.snap == SnapMode::Segment && graph.geometry.empty()) {
    throw ConfigError("--snap segment needs segment geometries, which this graph file does not have");
  }
  OGRSpatialReference wgs84, target;
  wgs84.importFromEPSG(4326);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  if (graph.crs.rfind("EPSG:", 0) != 0 || target.SetFromUserInput(graph.crs.c_str()) != OGRERR_NONE) {
    throw ConfigError("the graph's CRS '" + graph.crs + "' is not an EPSG code, so events cannot be placed on it");
  }
  target.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  if (!std::unique_ptr<OGRCoordinateTransformation>(OGRCreateCoordinateTransformation(&wgs84, &target))) {
    throw ConfigError("cannot reproject lon/lat to " + graph.crs);
  }

  std::vector<std::int32_t> ev_day;
  std::vector<std::int8_t> ev_cat;
  std::vector<double> ev_x, ev_y;

  // The file is read in chunks of whole lines; pairs of chunks are parsed on two cores and
  // merged in file order, so counts, examples and the first --strict error do not depend on
  // the threads.
  struct Columns {
    int date = -1, type = -1, lat = -1, lon = -1;
    std::size_t needed = 0;
  };
  struct Parsed {
    std::vector<std::int32_t> day;
    std::vector<std::int8_t> cat;
    std::vector<double> lon, lat;
    std::int64_t rows = 0;
    std::map<std::string, std::int64_t> dropped;
    std::vector<std::pair<std::int64_t, std::string>> problems;  // the first few, in line order
  };
  const std::size_t examples_wanted = o.strict ? 1 : o.examples;
  auto parse_chunk = [&](std::string_view text, std::int64_t first_line, const Columns& col, std::string format,
                         CategoryMap& cats, Parsed& out) {
    std::vector<std::string_view> fields;
    std::string type_buffer;
    std::int64_t lineno = first_line - 1;
    auto problem = [&](const char* reason) {
      ++out.dropped[reason];
      if (out.problems.size() < examples_wanted) out.problems.emplace_back(lineno, reason);
    };
    std::size_t start = 0;
    while (start < text.size()) {
      if (o.strict && !out.problems.empty()) return;
      auto nl = text.find('\n', start);
      if (nl == std::string_view::npos) nl = text.size();
      std::string_view line = text.substr(start, nl - start);
      start = nl + 1;
      ++lineno;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      ++out.rows;
      if (!split_csv_line(line, fields) || fields.size() < col.needed) {
        problem("malformed line");
        continue;
      }
      bool ascii = true;
      for (char c : line) ascii &= static_cast<unsigned char>(c) < 0x80;
      if (!ascii && !valid_utf8(line)) {
        problem("not UTF-8");
        continue;
      }
      const auto date_text = fields[static_cast<std::size_t>(col.date)];
      std::int32_t day = 0;
      bool dated = false;
      if (format == "auto") {
        if (const char* f = detect_date_format(date_text, day)) {
          format = f;
          dated = true;
        }
      } else {
        dated = parse_date(date_text, format, day);
      }
      if (!dated) {
        problem("unparseable date");
        continue;
      }
      double lat = 0, lon = 0;
      const auto lat_text = fields[static_cast<std::size_t>(col.lat)], lon_text = fields[static_cast<std::size_t>(col.lon)];
      const auto r1 = std::from_chars(lat_text.data(), lat_text.data() + lat_text.size(), lat);
      const auto r2 = std::from_chars(lon_text.data(), lon_text.data() + lon_text.size(), lon);
      if (lat_text.empty() || lon_text.empty() || r1.ec != std::errc() || r2.ec != std::errc() ||
          r1.ptr != lat_text.data() + lat_text.size() || r2.ptr != lon_text.data() + lon_text.size()) {
        problem("missing or unparseable coordinates");
        continue;
      }
      if (!(std::abs(lat) <= 90.0 && std::abs(lon) <= 180.0) || (lat == 0.0 && lon == 0.0)) {
        problem("coordinates out of range");
        continue;
      }
      if (o.bbox && (lat < (*o.bbox)[0] || lat > (*o.bbox)[2] || lon < (*o.bbox)[1] || lon > (*o.bbox)[3])) {
        ++out.dropped["outside the box"];
        continue;
      }
      type_buffer.assign(fields[static_cast<std::size_t>(col.type)]);
      const int category = cats.classify(type_buffer);
      if (category < 0) {
        ++out.dropped["category not mapped"];
        continue;
      }
      out.day.push_back(day);
      out.cat.push_back(static_cast<std::int8_t>(category));
      out.lon.push_back(lon);
      out.lat.push_back(lat);
    }
  };
  auto merge = [&](const std::string& path, Parsed& p) {
    report.rows += p.rows;
    for (const auto& [line, reason] : p.problems) {
      if (o.strict) throw DataError(path + ":" + std::to_string(line) + ": " + reason + " (--strict)");
      if (report.examples.size() < o.examples) report.examples.push_back(path + ":" + std::to_string(line) + ": " + reason);
    }
    for (const auto& [reason, n] : p.dropped) report.dropped[reason] += n;
    ev_day.insert(ev_day.end(), p.day.begin(), p.day.end());
    ev_cat.insert(ev_cat.end(), p.cat.begin(), p.cat.end());
    ev_x.insert(ev_x.end(), p.lon.begin(), p.lon.end());
    ev_y.insert(ev_y.end(), p.lat.begin(), p.lat.end());
  };

  constexpr std::size_t kChunk = 8 << 20;
  for (const auto& path : o.inputs) {
    // The file's SHA-256 (as sha256sum prints it) is computed on another core meanwhile.
    auto sha256 = std::async(std::launch::async, file_sha256, path);
    std::unique_ptr<gzFile_s, GzCloser> in(gzopen(path.c_str(), "rb"));
    if (!in) throw IoError("cannot read '" + path + "'");
    gzbuffer(in.get(), 1 << 20);
    // Reads the next chunk of whole lines (the tail of a partial line waits for the next call).
    std::string carry;
    bool eof = false;
    auto next_chunk = [&](std::string& chunk) {
      chunk.swap(carry);
      carry.clear();
      for (std::size_t target = kChunk;; target += kChunk) {
        while (!eof && chunk.size() < target) {
          const auto at = chunk.size();
          chunk.resize(at + (1 << 20));
          const int got = gzread(in.get(), chunk.data() + at, 1 << 20);
          if (got < 0) throw IoError("error reading '" + path + "' (damaged gzip?)");
          chunk.resize(at + static_cast<std::size_t>(got));
          if (got == 0) {
            // A gzip stream cut short reads as a shorter file unless its error is asked for.
            int status = Z_OK;
            const char* why = gzerror(in.get(), &status);
            if (status != Z_OK && status != Z_STREAM_END) {
              throw DataError("'" + path + "' is damaged or truncated (" + why + "): none of it was imported");
            }
            eof = true;
          }
        }
        if (eof) return;
        const auto last = chunk.rfind('\n');
        if (last == std::string::npos) continue;  // a line longer than a chunk: read on
        carry.assign(chunk, last + 1, std::string::npos);
        chunk.resize(last + 1);
        return;
      }
    };
    auto count_lines = [](const std::string& text) {
      return static_cast<std::int64_t>(std::count(text.begin(), text.end(), '\n'));
    };

    std::string first;
    next_chunk(first);
    // The header, and the date format from the first rows when it is "auto".
    std::size_t header_end = first.find('\n');
    std::size_t skipped_blank = 0;
    while (header_end != std::string::npos && first.find_first_not_of("\r", 0) == header_end) {  // blank leading lines
      first.erase(0, header_end + 1);
      ++skipped_blank;
      header_end = first.find('\n');
    }
    std::string_view header_line(first.data(), header_end == std::string::npos ? first.size() : header_end);
    if (!header_line.empty() && header_line.back() == '\r') header_line.remove_suffix(1);
    if (header_line.empty()) throw DataError("'" + path + "' is empty");
    std::vector<std::string_view> fields;
    if (!split_csv_line(header_line, fields)) throw DataError("'" + path + "': the header has an unterminated quote");
    Columns col;
    auto need = [&](const std::string& name, const char* role) {
      const int i = column_index(fields, name);
      if (i < 0) {
        std::string have;
        for (std::size_t k = 0; k < fields.size() && k < 12; ++k) have += (k ? ", " : "") + std::string(fields[k]);
        throw DataError("'" + path + "' has no " + role + " column '" + name + "' (columns: " + have + ")");
      }
      return i;
    };
    col.date = need(o.columns.date, "date");
    col.type = need(o.columns.type, "type");
    col.lat = need(o.columns.lat, "latitude");
    col.lon = need(o.columns.lon, "longitude");
    col.needed = static_cast<std::size_t>(std::max({col.date, col.type, col.lat, col.lon})) + 1;
    first.erase(0, header_end == std::string::npos ? first.size() : header_end + 1);
    std::int64_t next_line = 2 + static_cast<std::int64_t>(skipped_blank);
    std::string format = o.columns.date_format;
    if (format == "auto") {
      std::size_t start = 0;
      for (int tries = 0; tries < 100 && start < first.size() && format == "auto"; ++tries) {
        const auto nl = std::min(first.find('\n', start), first.size());
        std::int32_t day;
        const char* f = nullptr;
        if (split_csv_line(std::string_view(first).substr(start, nl - start), fields) && fields.size() >= col.needed &&
            (f = detect_date_format(fields[static_cast<std::size_t>(col.date)], day))) {
          format = f;
        }
        start = nl + 1;
      }
    }

    std::int64_t rows_before = report.rows;
    CategoryMap second_categories = categories;  // classify() caches: one map per thread
    std::string a = std::move(first), b;
    while (!a.empty()) {
      next_chunk(b);
      const std::int64_t a_line = next_line, b_line = next_line + count_lines(a);
      Parsed pa, pb;
      auto other = std::async(std::launch::async, [&] { parse_chunk(b, b_line, col, format, second_categories, pb); });
      parse_chunk(a, a_line, col, format, categories, pa);
      other.get();
      merge(path, pa);
      merge(path, pb);
      next_line = b_line + count_lines(b);
      next_chunk(a);
    }
    report.input_sha256[path] = sha256.get();
    if (report.rows == rows_before) throw DataError("'" + path + "' has a header but no rows");
  }
  report.parse_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Projection and snapping are independent per event: split them over the cores, each
  // thread with its own transformation (PROJ objects are not shared between threads).
  const SnapIndex index(graph, o.snap);
  std::vector<std::int32_t> ev_node(ev_x.size());
  {
    const std::size_t workers = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    const std::size_t per = (ev_x.size() + workers - 1) / workers;
    std::vector<std::thread> threads;
    std::vector<std::string> failures(workers);
    for (std::size_t w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        std::unique_ptr<OGRCoordinateTransformation> local(OGRCreateCoordinateTransformation(&wgs84, &target));
        const std::size_t begin = std::min(ev_x.size(), w * per), end = std::min(ev_x.size(), (w + 1) * per);
        constexpr std::size_t kBatch = 1 << 16;
        for (std::size_t b = begin; b < end; b += kBatch) {
          const auto n = std::min(kBatch, end - b);
          if (!local || !local->Transform(n, ev_x.data() + b, ev_y.data() + b)) {
            failures[w] = "cannot reproject events to " + graph.crs;
            return;
          }
        }
        for (std::size_t e = begin; e < end; ++e) {
          auto [node, distance] = index.nearest(ev_x[e], ev_y[e]);
          // How far the event is from the street itself: its line where the graph has lines.
          if (node >= 0 && o.snap == SnapMode::Centroid && !graph.geometry.empty() &&
              !graph.geometry[static_cast<std::size_t>(node)].parts.empty()) {
            distance = std::sqrt(graph.geometry[static_cast<std::size_t>(node)].distance2(ev_x[e], ev_y[e]));
          }
          ev_node[e] = distance <= o.max_snap_m ? node : -1;
        }
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& f : failures)
      if (!f.empty()) throw ConfigError(f);
  }
  std::int32_t first = o.first_day.value_or(std::numeric_limits<std::int32_t>::max());
  std::int32_t last = o.last_day.value_or(std::numeric_limits<std::int32_t>::min());
  if (!o.first_day || !o.last_day) {
    for (auto d : ev_day) {
      if (!o.first_day) first = std::min(first, d);
      if (!o.last_day) last = std::max(last, d);
    }
  }
  if (ev_day.empty() || first > last) throw DataError("no events left to count (" + std::to_string(report.rows) + " rows read)");
  const auto days = last - first + 1;
  // One mistyped date (the year 2200) would otherwise make a calendar of tens of thousands of days.
  constexpr std::int32_t kLongestAutomaticCalendar = 50 * 366;
  if ((!o.first_day || !o.last_day) && days > kLongestAutomaticCalendar) {
    throw DataError("the events span " + iso_date(first) + " to " + iso_date(last) + " (" + std::to_string(days) +
                    " days): a date is likely wrong; --start-date and --end-date count only the days between");
  }
  const auto nodes = graph.node_count();
  const auto k = static_cast<std::int32_t>(categories.categories().size());
  CrimeDataset ds;
  ds.graph = graph;
  ds.categories = categories.categories();
  ds.channels.clear();
  for (const auto& c : ds.categories) ds.channels.push_back(c + "Smoothed");
  ds.day_number.resize(static_cast<std::size_t>(days));
  for (std::int32_t t = 0; t < days; ++t) ds.day_number[static_cast<std::size_t>(t)] = first + t;
  ds.counts.assign(static_cast<std::size_t>(days) * nodes * k, 0);
  for (std::size_t e = 0; e < ev_day.size(); ++e) {
    if (ev_day[e] < first || ev_day[e] > last) {
      ++report.dropped["outside the calendar"];
      continue;
    }
    const auto node = ev_node[e];
    if (node < 0) {
      ++report.dropped[fmt::format("more than {:g} m from any street segment", o.max_snap_m)];
      continue;
    }
    ++ds.counts[(static_cast<std::size_t>(ev_day[e] - first) * nodes + static_cast<std::size_t>(node)) * k +
                static_cast<std::size_t>(ev_cat[e])];
    ++report.kept;
  }
  ds.features = smooth_counts(ds.counts, days, nodes, k, o.smoothing);
  ds.label = label_from_counts(ds.counts, days, nodes, ds.categories);

  auto& p = ds.provenance;
  p["creator"] = "crimegraph-prepare events";
  p["software_version"] = kVersion;
  p["created_utc"] = utc_timestamp();
  std::string inputs, hashes;
  for (const auto& [file, sha] : report.input_sha256) {
    inputs += (inputs.empty() ? "" : "; ") + file;
    hashes += (hashes.empty() ? "" : "; ") + file + " " + sha;
  }
  p["source"] = inputs;
  p["input_sha256"] = hashes;
  p["rows_read"] = std::to_string(report.rows);
  p["rows_kept"] = std::to_string(report.kept);
  std::string dropped;
  for (const auto& [reason, count] : report.dropped) dropped += (dropped.empty() ? "" : "; ") + reason + " " + std::to_string(count);
  p["rows_dropped"] = dropped.empty() ? "none" : dropped;
  p["categories"] = categories.describe();
  p["label_category"] = kLabelCategory;
  p["smoothing"] = std::to_string(o.smoothing) + " (exponential, over every calendar day)";
  p["snap"] = o.snap == SnapMode::Centroid ? "nearest segment centroid" : "nearest segment line";
  p["max_snap_m"] = fmt::format("{:g}", o.max_snap_m);
  if (o.bbox) {
    p["bbox"] = std::to_string((*o.bbox)[0]) + "," + std::to_string((*o.bbox)[1]) + "," + std::to_string((*o.bbox)[2]) +
                "," + std::to_string((*o.bbox)[3]);
  }
  p["columns"] = "date=" + o.columns.date + " type=" + o.columns.type + " lat=" + o.columns.lat + " lon=" + o.columns.lon;
  report.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ds;
}

}  // namespace crimegraph
