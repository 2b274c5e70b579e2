#pragma once
// Street graphs from GIS data: any line layer GDAL/OGR reads (Shapefile, GeoPackage,
// GeoJSON...), GraphML (networkx / OSMnx) and nodes/edges CSV pairs.
//
// Each street segment becomes a node. Two segments are joined where their geometries meet in
// a point, or in several points (the one nearest the first segment's centroid is used);
// overlapping stretches are not edges. The edge distance is the mean of the two along-segment
// distances from each segment's start to the meeting point; weight = exp(-d^2 / (2 alpha^2)).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crimegraph/data/street_graph.hpp"

namespace crimegraph {

struct GisGraphOptions {
  std::string path;
  std::string layer;              ///< empty: the first layer
  int target_epsg = 26985;        ///< metric CRS of the graph (Maryland State Plane by default)
  /// minLat, minLon, maxLat, maxLon; segments intersecting it are kept.
  std::optional<std::array<double, 4>> bbox;
  double alpha_m = 750.0;
  std::string id_field;               ///< empty: OBJECTID if present, else the feature id
  std::string name_field;             ///< empty: ROAD_NAME, name or NAME if present
};

/// Parses "minLat,minLon,maxLat,maxLon"; throws ConfigError on anything else.
std::array<double, 4> parse_bbox(const std::string& text);

/// Reads a line layer with GDAL/OGR. Throws IoError for an unreadable file, DataError for a
/// layer without lines, ConfigError for a CRS that cannot be used.
StreetGraph read_gis_street_graph(const GisGraphOptions& options);

/// Throws ConfigError unless EPSG:`epsg` is a projected CRS measured in metres: distances,
/// lengths and the adjacency kernel are metres (a geographic CRS would make them degrees).
void check_metric_crs(int epsg);

/// Builds the edges of already projected segments (graph.geometry, the rules above); `graph`
/// must hold the node attributes, its edges are replaced. Uses a grid index, not all pairs.
void connect_segments(StreetGraph& graph);

/// GraphML as written by networkx / OSMnx: graph nodes are intersections, edges are street
/// segments (with x/y or lon/lat node attributes, optional length and name).
StreetGraph read_graphml_street_graph(const std::string& path, int target_epsg, double alpha_m);

/// A nodes CSV (id,name,x,y[,lon,lat,length_m]) and an edges CSV (u,v,distance_m) of ids.
StreetGraph read_csv_street_graph(const std::string& nodes_csv, const std::string& edges_csv, double alpha_m);

}  // namespace crimegraph
