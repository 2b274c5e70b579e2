#pragma once
// A day's ranking of street segments written for people and GIS tools: CSV, and GeoJSON in
// lon/lat (RFC 7946) with each segment's line, or its midpoint when the graph has no lines.
#include <cstdint>
#include <string>
#include <vector>

#include "crimegraph/data/street_graph.hpp"

namespace crimegraph {

struct RankedSegments {
  std::string day;                    ///< the day ranked, YYYY-MM-DD
  double coverage = 0.2;              ///< the share the flagged segments stand for
  std::vector<float> risk;            ///< per node
  std::vector<std::int32_t> rank;     ///< per node, 1 = highest risk
  std::vector<std::uint8_t> flagged;  ///< per node
  std::vector<std::int32_t> events;   ///< per node: violent events that day; empty for a forecast
};

/// segment_id, name, lon, lat, length_m, risk, rank, flagged (and events for a past day), one
/// row per segment in rank order.
void write_ranking_csv(const std::string& path, const StreetGraph& graph, const RankedSegments& ranking);
/// A FeatureCollection of the same, its properties per segment; a top-level "crimegraph"
/// member names the day and coverage. Lines are converted from the graph's CRS with GDAL.
void write_ranking_geojson(const std::string& path, const StreetGraph& graph, const RankedSegments& ranking);

}  // namespace crimegraph
