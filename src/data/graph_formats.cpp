// GraphML (networkx / OSMnx) and nodes/edges CSV street graphs.
#include <gdal/ogr_geometry.h>
#include <gdal/ogr_spatialref.h>
#include <pugixml.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "crimegraph/data/gis_graph.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/csv.hpp"
#include "crimegraph/io/text.hpp"

namespace crimegraph {
namespace {

// A bad number in an input file is a data error, not a configuration one.
double number(const std::string& text, const std::string& where) {
  try {
    return parse_number(text, where);
  } catch (const ConfigError& e) {
    throw DataError(e.what());
  }
}

}  // namespace

StreetGraph read_graphml_street_graph(const std::string& path, int target_epsg, double alpha_m) {
  // pugixml sizes its buffer from the file's length: a folder's is bogus (2^63 bytes).
  if (std::error_code ec; !std::filesystem::is_regular_file(path, ec)) {
    throw IoError("cannot read GraphML '" + path + "': not a file");
  }
  pugi::xml_document doc;
  const auto parsed = doc.load_file(path.c_str());
  if (!parsed) throw IoError("cannot read GraphML '" + path + "': " + parsed.description());
  const auto root = doc.child("graphml");
  const auto graph_node = root.child("graph");
  if (!graph_node) throw DataError("'" + path + "' has no <graph>");
  // Attribute keys: id -> name, per domain.
  std::map<std::string, std::string> node_keys, edge_keys, graph_keys;
  for (auto key : root.children("key")) {
    const std::string domain = key.attribute("for").value();
    auto& keys = domain == "node" ? node_keys : domain == "edge" ? edge_keys : graph_keys;
    keys[key.attribute("id").value()] = key.attribute("attr.name").value();
  }
  auto data_of = [](pugi::xml_node n, const std::map<std::string, std::string>& keys) {
    std::map<std::string, std::string> out;
    for (auto d : n.children("data")) {
      const auto it = keys.find(d.attribute("key").value());
      if (it != keys.end()) out[it->second] = d.text().get();
    }
    return out;
  };
  const auto gdata = data_of(graph_node, graph_keys);
  std::string source_crs = "EPSG:4326";
  if (gdata.count("crs")) source_crs = gdata.at("crs");
  OGRSpatialReference src, dst;
  if (src.SetFromUserInput(source_crs.c_str()) != OGRERR_NONE) throw ConfigError("'" + path + "': unknown crs '" + source_crs + "'");
  check_metric_crs(target_epsg);
  if (dst.importFromEPSG(target_epsg) != OGRERR_NONE) throw ConfigError("unknown CRS EPSG:" + std::to_string(target_epsg));
  src.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  dst.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference wgs;
  wgs.importFromEPSG(4326);
  wgs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> fwd(OGRCreateCoordinateTransformation(&src, &dst));
  std::unique_ptr<OGRCoordinateTransformation> back(OGRCreateCoordinateTransformation(&dst, &wgs));
  if (!fwd || !back) throw ConfigError("cannot reproject '" + path + "' from " + source_crs + " to EPSG:" + std::to_string(target_epsg));

  std::map<std::string, std::pair<double, double>> nodes;  // projected
  for (auto n : graph_node.children("node")) {
    const std::string id = n.attribute("id").value();
    const auto d = data_of(n, node_keys);
    if (!d.count("x") || !d.count("y")) throw DataError("'" + path + "': node " + id + " has no x/y");
    double x = number(d.at("x"), path + " node " + id), y = number(d.at("y"), path + " node " + id);
    if (!fwd->Transform(1, &x, &y)) throw ConfigError("'" + path + "': cannot reproject node " + id);
    if (!nodes.emplace(id, std::make_pair(x, y)).second) throw DataError("'" + path + "': node id " + id + " appears twice");
  }
  StreetGraph g;
  g.crs = "EPSG:" + std::to_string(target_epsg);
  g.alpha_m = alpha_m;
  std::vector<Polyline> lines;
  std::set<std::pair<std::string, std::string>> seen;
  std::int64_t index = 0;
  for (auto e : graph_node.children("edge")) {
    std::string u = e.attribute("source").value(), v = e.attribute("target").value();
    const auto key = u < v ? std::make_pair(u, v) : std::make_pair(v, u);
    if (u == v || !seen.insert(key).second) continue;  // a two-way street appears once per direction
    if (!nodes.count(u) || !nodes.count(v)) throw DataError("'" + path + "': edge " + u + "-" + v + " names an unknown node");
    const auto d = data_of(e, edge_keys);
    Polyline line;
    if (d.count("geometry")) {
      OGRGeometry* geom = nullptr;
      if (OGRGeometryFactory::createFromWkt(d.at("geometry").c_str(), &src, &geom) != OGRERR_NONE || !geom) {
        throw DataError("'" + path + "': edge " + u + "-" + v + " has an unreadable geometry");
      }
      std::unique_ptr<OGRGeometry> owned(geom);
      owned->transform(fwd.get());
      if (wkbFlatten(owned->getGeometryType()) == wkbLineString) {
        std::vector<std::pair<double, double>> part;
        for (const auto& p : *owned->toLineString()) part.emplace_back(p.getX(), p.getY());
        line.parts.push_back(part);
      }
    }
    if (line.parts.empty()) line.parts.push_back({nodes[u], nodes[v]});
    const auto mid = std::make_pair(0.5 * (nodes[u].first + nodes[v].first), 0.5 * (nodes[u].second + nodes[v].second));
    double lon = mid.first, lat = mid.second;
    back->Transform(1, &lon, &lat);
    g.source_id.push_back(d.count("osmid") ? static_cast<std::int64_t>(std::atoll(d.at("osmid").c_str())) : index);
    g.name.push_back(d.count("name") ? d.at("name") : "");
    g.x.push_back(mid.first);
    g.y.push_back(mid.second);
    g.lon.push_back(lon);
    g.lat.push_back(lat);
    g.length_m.push_back(line.length());
    lines.push_back(std::move(line));
    ++index;
  }
  if (lines.empty()) throw DataError("'" + path + "' has no street segments (edges)");
  g.geometry = std::move(lines);
  connect_segments(g);
  g.validate();
  return g;
}

StreetGraph read_csv_street_graph(const std::string& nodes_csv, const std::string& edges_csv, double alpha_m) {
  const auto nodes = read_csv_table(nodes_csv);
  const auto edges = read_csv_table(edges_csv);
  const auto id = nodes.column("id"), x = nodes.column("x"), y = nodes.column("y");
  auto optional = [&](const std::string& name) -> int {
    for (std::size_t i = 0; i < nodes.header.size(); ++i)
      if (nodes.header[i] == name) return static_cast<int>(i);
    return -1;
  };
  const int name = optional("name"), lon = optional("lon"), lat = optional("lat"), length = optional("length_m");
  StreetGraph g;
  g.alpha_m = alpha_m;
  g.crs = "as given in " + nodes_csv;
  std::map<std::string, std::int32_t> index;
  for (std::size_t r = 0; r < nodes.rows.size(); ++r) {
    const auto& row = nodes.rows[r];
    const std::string where = nodes_csv + " line " + std::to_string(r + 2);
    if (!index.emplace(row[id], static_cast<std::int32_t>(r)).second) throw DataError(where + ": duplicate id '" + row[id] + "'");
    g.source_id.push_back(static_cast<std::int64_t>(r));
    g.name.push_back(name >= 0 ? row[static_cast<std::size_t>(name)] : row[id]);
    g.x.push_back(number(row[x], where));
    g.y.push_back(number(row[y], where));
    g.lon.push_back(lon >= 0 ? number(row[static_cast<std::size_t>(lon)], where) : 0.0);
    g.lat.push_back(lat >= 0 ? number(row[static_cast<std::size_t>(lat)], where) : 0.0);
    g.length_m.push_back(length >= 0 ? number(row[static_cast<std::size_t>(length)], where) : 0.0);
  }
  const auto u = edges.column("u"), v = edges.column("v"), dist = edges.column("distance_m");
  std::set<std::pair<std::int32_t, std::int32_t>> seen;
  for (std::size_t r = 0; r < edges.rows.size(); ++r) {
    const auto& row = edges.rows[r];
    const std::string where = edges_csv + " line " + std::to_string(r + 2);
    const auto a = index.find(row[u]), b = index.find(row[v]);
    if (a == index.end() || b == index.end()) {
      throw DataError(where + ": unknown node id '" + (a == index.end() ? row[u] : row[v]) + "'");
    }
    if (a->second == b->second) throw DataError(where + ": an edge from a segment to itself");
    const auto p = std::minmax(a->second, b->second);
    if (!seen.insert(p).second) continue;
    const double d = number(row[dist], where);
    if (d < 0) throw DataError(where + ": negative distance");
    g.edges.push_back({p.first, p.second, d, gaussian_weight(d, alpha_m)});
  }
  g.validate();
  return g;
}

}  // namespace crimegraph
