#include "crimegraph/data/ranking_output.hpp"

#include <ogr_spatialref.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <ostream>

#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"

namespace crimegraph {
namespace {

void check_sizes(const StreetGraph& graph, const RankedSegments& r) {
  const auto n = static_cast<std::size_t>(graph.node_count());
  if (r.risk.size() != n || r.rank.size() != n || r.flagged.size() != n || (!r.events.empty() && r.events.size() != n)) {
    throw DataError("a ranking of " + std::to_string(r.risk.size()) + " segments for a graph of " + std::to_string(n));
  }
}

std::vector<std::int32_t> rank_order(const RankedSegments& r) {
  std::vector<std::int32_t> order(r.rank.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return r.rank[a] < r.rank[b]; });
  return order;
}

// Projected metres to lon/lat, or null when the graph has no lines or no CRS GDAL knows.
std::unique_ptr<OGRCoordinateTransformation> to_lonlat(const StreetGraph& graph) {
  if (graph.geometry.empty() || graph.crs.empty()) return nullptr;
  OGRSpatialReference from, wgs84;
  if (from.SetFromUserInput(graph.crs.c_str()) != OGRERR_NONE) return nullptr;
  from.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  wgs84.importFromEPSG(4326);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  return std::unique_ptr<OGRCoordinateTransformation>(OGRCreateCoordinateTransformation(&from, &wgs84));
}

std::string geometry_json(const StreetGraph& graph, std::int32_t node, OGRCoordinateTransformation* transform) {
  if (!transform || graph.geometry[node].parts.empty()) {
    return fmt::format("{{\"type\": \"Point\", \"coordinates\": [{:.7f}, {:.7f}]}}", graph.lon[node], graph.lat[node]);
  }
  std::string parts;
  for (const auto& part : graph.geometry[node].parts) {
    std::vector<double> x, y;
    for (const auto& [px, py] : part) x.push_back(px), y.push_back(py);
    if (!transform->Transform(static_cast<int>(x.size()), x.data(), y.data())) {
      throw DataError("cannot convert segment " + std::to_string(graph.source_id[node]) + " from " + graph.crs + " to lon/lat");
    }
    std::string line;
    for (std::size_t k = 0; k < x.size(); ++k) line += fmt::format("{}[{:.7f}, {:.7f}]", k ? ", " : "", x[k], y[k]);
    parts += (parts.empty() ? "[" : ", [") + line + "]";
  }
  return "{\"type\": \"MultiLineString\", \"coordinates\": [" + parts + "]}";
}

}  // namespace

void write_ranking_csv(const std::string& path, const StreetGraph& graph, const RankedSegments& r) {
  check_sizes(graph, r);
  write_file_atomically(path, [&](std::ostream& out) {
    out << "segment_id,name,lon,lat,length_m,risk,rank,flagged" << (r.events.empty() ? "" : ",events") << "\n";
    for (const auto node : rank_order(r)) {
      out << fmt::format("{},{},{:.7f},{:.7f},{:.1f},{:.6g},{},{}", graph.source_id[node], csv_field(graph.name[node]),
                         graph.lon[node], graph.lat[node], graph.length_m[node], r.risk[node], r.rank[node],
                         static_cast<int>(r.flagged[node]));
      if (!r.events.empty()) out << "," << r.events[node];
      out << "\n";
    }
  });
}

void write_ranking_geojson(const std::string& path, const StreetGraph& graph, const RankedSegments& r) {
  check_sizes(graph, r);
  const auto transform = to_lonlat(graph);
  write_file_atomically(path, [&](std::ostream& out) {
    out << "{\"type\": \"FeatureCollection\",\n";
    out << fmt::format(" \"crimegraph\": {{\"day\": {}, \"coverage\": {}, \"forecast\": {}}},\n", json_string(r.day),
                       r.coverage, r.events.empty() ? "true" : "false");
    out << " \"features\": [\n";
    const auto order = rank_order(r);
    for (std::size_t k = 0; k < order.size(); ++k) {
      const auto node = order[k];
      out << fmt::format("  {{\"type\": \"Feature\", \"geometry\": {}, \"properties\": {{\"segment_id\": {}, \"name\": {}, "
                         "\"lon\": {:.7f}, \"lat\": {:.7f}, \"length_m\": {:.1f}, \"risk\": {:.6g}, \"rank\": {}, "
                         "\"flagged\": {}",
                         geometry_json(graph, node, transform.get()), graph.source_id[node], json_string(graph.name[node]),
                         graph.lon[node], graph.lat[node], graph.length_m[node], r.risk[node], r.rank[node],
                         r.flagged[node] ? "true" : "false");
      if (!r.events.empty()) out << ", \"events\": " << r.events[node];
      out << (k + 1 < order.size() ? "}},\n" : "}}\n");
    }
    out << " ]}\n";
  });
}

}  // namespace crimegraph
