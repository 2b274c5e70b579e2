#pragma once
// Crime reports in: CSV files (optionally gzip) streamed, mapped to categories, kept inside a
// box, snapped to street segments and counted per day on a zero-filled calendar, then
// smoothed into the dataset's feature channels.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "crimegraph/data/dataset.hpp"

namespace crimegraph {

/// Which CSV columns hold what, and how dates are written.
struct CsvColumns {
  std::string date, type, lat, lon;
  /// strftime-like (%Y %m %d %H %M %S %I %p; other characters literal), or "auto" to detect
  /// one of the common formats from the first rows.
  std::string date_format = "auto";
};

/// The column presets: "spotcrime", "chicago", "baltimore" (Open Baltimore).
CsvColumns csv_preset(const std::string& name);
/// Applies "date=Col,type=Col,lat=Col,lon=Col" overrides to `columns`.
void apply_column_overrides(CsvColumns& columns, const std::string& spec);

/// Maps report types to categories. A type matches a category when it equals one of the
/// category's keywords, ignoring case, or else contains one as a word ("AGG. ASSAULT" is an
/// Assault); categories are tried in file order. Unmatched types are dropped (and counted).
class CategoryMap {
 public:
  /// The original study's: Violent = Assault, Robbery, Shooting; Property = Arson, Burglary,
  /// Theft, Vandalism; Arrest = Arrest. Categories are ordered Arrest, Property, Violent.
  static CategoryMap original_study();
  /// A [categories] section: `Name = keyword, keyword, ...`.
  static CategoryMap from_file(const std::string& path);
  static CategoryMap parse(const std::string& text, const std::string& origin);

  const std::vector<std::string>& categories() const { return names_; }
  /// Category index of a type, -1 if none matches. Caches every type it has seen.
  int classify(const std::string& type);
  std::string describe() const;

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> keywords_;  // lowercase, per category
  std::unordered_map<std::string, int> cache_;
};

enum class SnapMode {
  Centroid,  ///< nearest segment centroid (the original study's; default)
  Segment,   ///< nearest point of a segment's line (needs the graph's geometry)
};

struct EventImportOptions {
  std::vector<std::string> inputs;
  CsvColumns columns;
  std::optional<std::array<double, 4>> bbox;  ///< minLat, minLon, maxLat, maxLon
  SnapMode snap = SnapMode::Centroid;
  /// Events farther than this from the segment they would snap to (its centroid, or its line)
  /// are dropped and counted: they are not on this street network.
  double max_snap_m = 500.0;
  double smoothing = 0.5;
  bool strict = false;             ///< any per-row problem is an error
  std::size_t examples = 5;        ///< problems reported with their line numbers
  std::optional<std::int32_t> first_day, last_day;  ///< calendar bounds (day numbers), default: the events'
};

struct ImportReport {
  std::int64_t rows = 0, kept = 0;
  std::map<std::string, std::int64_t> dropped;  ///< by reason
  std::vector<std::string> examples;            ///< "file:line: reason"
  std::map<std::string, std::string> input_sha256;
  double parse_seconds = 0.0, total_seconds = 0.0;
};

/// Reads the inputs and builds a complete dataset on `graph` (whose CRS must be an EPSG code).
/// Throws IoError for an unreadable file, DataError for a missing column, an empty input or (in
/// strict mode) the first bad row; per-row problems otherwise only count in `report`.
CrimeDataset import_events(const StreetGraph& graph, CategoryMap categories, const EventImportOptions& options,
                           ImportReport& report);

/// Parses a date with a strftime-like format into a day number; false when it does not match.
bool parse_date(std::string_view text, std::string_view format, std::int32_t& day);

}  // namespace crimegraph
