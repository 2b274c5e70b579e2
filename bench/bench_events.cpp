// Events throughput: generates a SpotCrime-style CSV of N rows (default 2.8 million, the size of
// the original study's input) around central Baltimore and imports it onto the committed
// street graph. Target (issue 5): >= 1 million rows per second of parsing and snapping.
//   bench_events [--rows 2800000] [--graph data/central-baltimore/streets.h5] [--runs 3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_cpu.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/data/events.hpp"
#include "crimegraph/data/gis_graph.hpp"

using namespace crimegraph;

int main(int argc, char** argv) {
  long rows = 2800000;
  int runs = 3;
  std::string graph_path = "data/central-baltimore/streets.h5";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rows")) rows = std::stol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--graph")) graph_path = argv[i + 1];
    if (!std::strcmp(argv[i], "--runs")) runs = std::stoi(argv[i + 1]);
  }
  std::printf("%s\n", bench::cpu_description().c_str());
  const auto graph = read_dataset(graph_path);
  const auto csv = (std::filesystem::temp_directory_path() / "crimegraph-bench-events.csv").string();
  const bool keep = std::getenv("KEEP_CSV") != nullptr;  // reuse the file between runs (profiling)
  if (!keep || !std::filesystem::exists(csv)) {
    std::ofstream out(csv);
    out << "Date,Type,Latitude,Longitude,Address\n";
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> lat(39.2938, 39.3545), lon(-76.6799, -76.6144);
    const char* types[] = {"Assault", "Robbery", "Shooting", "Arson", "Burglary", "Theft", "Vandalism", "Arrest", "Other"};
    char line[160];
    for (long r = 0; r < rows; ++r) {
      const int day = static_cast<int>(rng() % 28) + 1, month = static_cast<int>(rng() % 12) + 1;
      const int year = 2010 + static_cast<int>(rng() % 9);
      std::snprintf(line, sizeof line, "%02d/%02d/%04d %02d:%02d:00 %s,%s,%.6f,%.6f,\"%ld N Example St\"\n", month, day, year,
                    static_cast<int>(rng() % 12) + 1, static_cast<int>(rng() % 60), rng() % 2 ? "AM" : "PM",
                    types[rng() % 9], lat(rng), lon(rng), r % 4000);
      out << line;
    }
  }
  std::vector<double> parse_rates, total_rates;
  for (int run = 0; run < runs; ++run) {
    EventImportOptions o;
    o.inputs = {csv};
    o.columns = csv_preset("spotcrime");
    o.bbox = parse_bbox(graph.provenance.at("bbox"));
    ImportReport report;
    const auto ds = import_events(graph.graph, CategoryMap::original_study(), o, report);
    parse_rates.push_back(report.rows / report.parse_seconds);
    total_rates.push_back(report.rows / report.total_seconds);
    std::printf("run %d: %ld rows, %lld kept, %zu days; parse %.2f s (%.2f M rows/s), all %.2f s (%.2f M rows/s)\n", run + 1,
                rows, static_cast<long long>(report.kept), static_cast<std::size_t>(ds.days()), report.parse_seconds,
                parse_rates.back() / 1e6, report.total_seconds, total_rates.back() / 1e6);
  }
  std::sort(parse_rates.begin(), parse_rates.end());
  std::sort(total_rates.begin(), total_rates.end());
  std::printf("median: parsing %.2f M rows/s, parsing + projecting + snapping + counting %.2f M rows/s (target >= 1)\n",
              parse_rates[parse_rates.size() / 2] / 1e6, total_rates[total_rates.size() / 2] / 1e6);
  if (!keep) std::filesystem::remove(csv);
  return 0;
}
