#include "crimegraph/data/gis_graph.hpp"

#include <gdal/ogr_geometry.h>
#include <gdal/ogr_spatialref.h>
#include <gdal/ogrsf_frmts.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "crimegraph/error.hpp"

namespace crimegraph {

// --- polyline geometry (pure) ---------------------------------------------------------------

std::array<double, 4> parse_bbox(const std::string& text) {
  std::array<double, 4> box{};
  std::istringstream in(text);
  std::string item;
  int n = 0;
  while (std::getline(in, item, ',')) {
    if (n >= 4) throw ConfigError("--bbox takes 4 numbers: minLat,minLon,maxLat,maxLon");
    try {
      std::size_t used = 0;
      box[static_cast<std::size_t>(n)] = std::stod(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw ConfigError("--bbox: '" + item + "' is not a number");
    }
    ++n;
  }
  if (n != 4) throw ConfigError("--bbox takes 4 numbers: minLat,minLon,maxLat,maxLon");
  if (box[0] >= box[2] || box[1] >= box[3]) throw ConfigError("--bbox: min must be below max (minLat,minLon,maxLat,maxLon)");
  if (box[0] < -90 || box[2] > 90 || box[1] < -180 || box[3] > 180) throw ConfigError("--bbox is outside valid lat/lon");
  return box;
}

// --- edges -----------------------------------------------------------------------------------

namespace {

std::unique_ptr<OGRGeometry> to_ogr(const Polyline& line) {
  if (line.parts.size() == 1) {
    auto ls = std::make_unique<OGRLineString>();
    for (const auto& [x, y] : line.parts[0]) ls->addPoint(x, y);
    return ls;
  }
  auto ml = std::make_unique<OGRMultiLineString>();
  for (const auto& part : line.parts) {
    OGRLineString ls;
    for (const auto& [x, y] : part) ls.addPoint(x, y);
    ml->addGeometry(&ls);
  }
  return ml;
}

}  // namespace

void connect_segments(StreetGraph& graph) {
  const auto& lines = graph.geometry;
  const std::size_t n = lines.size();
  graph.edges.clear();
  if (n < 2) return;
  using Envelope = Polyline::Bounds;
  std::vector<Envelope> env(n);
  Envelope all = lines[0].bounds();
  for (std::size_t i = 0; i < n; ++i) {
    env[i] = lines[i].bounds();
    all = all.merge(env[i]);
  }
  // A uniform grid over the extent, about 4 segments per cell.
  const double area = std::max(1.0, (all.maxx - all.minx) * (all.maxy - all.miny));
  const double cell = std::max(1.0, std::sqrt(area / std::max<std::size_t>(1, n / 4)));
  const auto cols = static_cast<std::int64_t>((all.maxx - all.minx) / cell) + 1;
  const auto rows = static_cast<std::int64_t>((all.maxy - all.miny) / cell) + 1;
  std::vector<std::vector<std::int32_t>> grid(static_cast<std::size_t>(cols * rows));
  auto cell_range = [&](const Envelope& e, auto&& visit) {
    const auto c0 = static_cast<std::int64_t>((e.minx - all.minx) / cell), c1 = static_cast<std::int64_t>((e.maxx - all.minx) / cell);
    const auto r0 = static_cast<std::int64_t>((e.miny - all.miny) / cell), r1 = static_cast<std::int64_t>((e.maxy - all.miny) / cell);
    for (auto r = r0; r <= std::min(r1, rows - 1); ++r)
      for (auto c = c0; c <= std::min(c1, cols - 1); ++c) visit(static_cast<std::size_t>(r * cols + c));
  };
  for (std::size_t i = 0; i < n; ++i) cell_range(env[i], [&](std::size_t k) { grid[k].push_back(static_cast<std::int32_t>(i)); });

  std::vector<std::unique_ptr<OGRGeometry>> geoms(n);
  for (std::size_t i = 0; i < n; ++i) geoms[i] = to_ogr(lines[i]);
  std::vector<std::int32_t> candidates;
  for (std::size_t i = 0; i < n; ++i) {
    candidates.clear();
    cell_range(env[i], [&](std::size_t k) {
      for (auto j : grid[k])
        if (static_cast<std::size_t>(j) > i) candidates.push_back(j);
    });
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    OGRPoint centroid;
    bool have_centroid = false;
    for (auto j : candidates) {
      const auto& a = env[i];
      const auto& b = env[static_cast<std::size_t>(j)];
      if (a.maxx < b.minx || b.maxx < a.minx || a.maxy < b.miny || b.maxy < a.miny) continue;
      if (!geoms[i]->Intersects(geoms[static_cast<std::size_t>(j)].get())) continue;
      std::unique_ptr<OGRGeometry> meet(geoms[i]->Intersection(geoms[static_cast<std::size_t>(j)].get()));
      if (!meet || meet->IsEmpty()) continue;
      std::vector<std::pair<double, double>> points;
      const auto type = wkbFlatten(meet->getGeometryType());
      if (type == wkbPoint) {
        const auto* p = meet->toPoint();
        points.emplace_back(p->getX(), p->getY());
      } else if (type == wkbMultiPoint) {
        for (const auto* p : *meet->toMultiPoint()) points.emplace_back(p->getX(), p->getY());
      } else {
        continue;  // the segments overlap along a stretch: not an edge
      }
      if (!have_centroid) {
        geoms[i]->Centroid(&centroid);
        have_centroid = true;
      }
      auto best = points.front();
      double best_d = std::numeric_limits<double>::infinity();
      for (const auto& p : points) {
        const double d = std::hypot(p.first - centroid.getX(), p.second - centroid.getY());
        if (d < best_d) best_d = d, best = p;
      }
      const double distance = 0.5 * (lines[i].project(best.first, best.second) +
                                     lines[static_cast<std::size_t>(j)].project(best.first, best.second));
      graph.edges.push_back({static_cast<std::int32_t>(i), j, distance, gaussian_weight(distance, graph.alpha_m)});
    }
  }
}

// --- GDAL / OGR ------------------------------------------------------------------------------

namespace {

struct DatasetCloser {
  void operator()(GDALDataset* d) const { GDALClose(d); }
};

std::unique_ptr<OGRSpatialReference> srs_from_epsg(int epsg) {
  auto srs = std::make_unique<OGRSpatialReference>();
  if (srs->importFromEPSG(epsg) != OGRERR_NONE) throw ConfigError("unknown CRS EPSG:" + std::to_string(epsg));
  srs->SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  return srs;
}

std::unique_ptr<OGRCoordinateTransformation> transformation(const OGRSpatialReference& from,
                                                            const OGRSpatialReference& to, const std::string& what) {
  std::unique_ptr<OGRCoordinateTransformation> t(OGRCreateCoordinateTransformation(&from, &to));
  if (!t) throw ConfigError("cannot reproject " + what);
  return t;
}

void collect_parts(const OGRGeometry* g, Polyline& out) {
  switch (wkbFlatten(g->getGeometryType())) {
    case wkbLineString: {
      std::vector<std::pair<double, double>> part;
      for (const auto& p : *g->toLineString()) part.emplace_back(p.getX(), p.getY());
      if (!part.empty()) out.parts.push_back(std::move(part));
      break;
    }
    case wkbMultiLineString:
      for (const auto* ls : *g->toMultiLineString()) collect_parts(ls, out);
      break;
    default:
      break;
  }
}

}  // namespace

void check_metric_crs(int epsg) {
  const auto srs = srs_from_epsg(epsg);
  const std::string name = "EPSG:" + std::to_string(epsg);
  if (!srs->IsProjected()) {
    throw ConfigError(name + " is not a projected CRS (" + (srs->IsGeographic() ? "its units are degrees" : "no linear units") +
                      "): choose one in metres, such as the local UTM zone or state plane");
  }
  const char* unit = nullptr;
  const double metres = srs->GetLinearUnits(&unit);
  if (std::abs(metres - 1.0) > 1e-9) {
    throw ConfigError(name + " measures in " + (unit ? unit : "unknown units") + ", not metres: choose a CRS in metres");
  }
}

StreetGraph read_gis_street_graph(const GisGraphOptions& o) {
  static const bool registered = [] {
    GDALAllRegister();
    CPLSetErrorHandler(CPLQuietErrorHandler);
    return true;
  }();
  (void)registered;
  std::unique_ptr<GDALDataset, DatasetCloser> ds(
      static_cast<GDALDataset*>(GDALOpenEx(o.path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY, nullptr, nullptr, nullptr)));
  if (!ds) throw IoError("cannot open '" + o.path + "' as a GIS vector file: " + CPLGetLastErrorMsg());
  OGRLayer* layer = o.layer.empty() ? ds->GetLayer(0) : ds->GetLayerByName(o.layer.c_str());
  if (!layer) throw DataError("'" + o.path + "' has no layer" + (o.layer.empty() ? "" : " '" + o.layer + "'"));
  const OGRSpatialReference* source = layer->GetSpatialRef();
  if (!source) throw DataError("'" + o.path + "': the layer has no coordinate reference system");
  OGRSpatialReference src(*source);
  src.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  check_metric_crs(o.target_epsg);
  const auto target = srs_from_epsg(o.target_epsg);
  const auto wgs84 = srs_from_epsg(4326);
  const auto to_target = transformation(src, *target, "'" + o.path + "' to EPSG:" + std::to_string(o.target_epsg));
  const auto to_wgs84 = transformation(*target, *wgs84, "EPSG:" + std::to_string(o.target_epsg) + " to WGS 84");

  // The box is tested in lon/lat against each segment in lon/lat: a lon/lat rectangle is not a
  // rectangle in a projected CRS. This reproduces the original study's 1177 segments.
  std::unique_ptr<OGRGeometry> box;
  const auto source_to_wgs84 = transformation(src, *wgs84, "'" + o.path + "' to WGS 84");
  if (o.bbox) {
    OGRLinearRing ring;
    ring.addPoint((*o.bbox)[1], (*o.bbox)[0]);
    ring.addPoint((*o.bbox)[3], (*o.bbox)[0]);
    ring.addPoint((*o.bbox)[3], (*o.bbox)[2]);
    ring.addPoint((*o.bbox)[1], (*o.bbox)[2]);
    ring.closeRings();
    auto poly = std::make_unique<OGRPolygon>();
    poly->addRing(&ring);
    box = std::move(poly);
  }

  const OGRFeatureDefn* defn = layer->GetLayerDefn();
  const int id_index = defn->GetFieldIndex(o.id_field.empty() ? "OBJECTID" : o.id_field.c_str());
  if (id_index < 0 && !o.id_field.empty()) throw DataError("'" + o.path + "' has no field '" + o.id_field + "'");
  int name_index = -1;
  if (!o.name_field.empty()) {
    name_index = defn->GetFieldIndex(o.name_field.c_str());
    if (name_index < 0) throw DataError("'" + o.path + "' has no field '" + o.name_field + "'");
  } else {
    for (const char* candidate : {"ROAD_NAME", "name", "NAME", "FULLNAME"}) {
      if ((name_index = defn->GetFieldIndex(candidate)) >= 0) break;
    }
  }

  StreetGraph g;
  g.crs = "EPSG:" + std::to_string(o.target_epsg);
  g.alpha_m = o.alpha_m;
  std::vector<Polyline> lines;
  std::int64_t read = 0, not_lines = 0, outside = 0;
  layer->ResetReading();
  for (auto& feature : *layer) {
    ++read;
    OGRGeometry* geom = feature->GetGeometryRef();
    if (!geom) {
      ++not_lines;
      continue;
    }
    const auto type = wkbFlatten(geom->getGeometryType());
    if (type != wkbLineString && type != wkbMultiLineString) {
      ++not_lines;
      continue;
    }
    if (box) {
      std::unique_ptr<OGRGeometry> lonlat(geom->clone());
      lonlat->flattenTo2D();
      if (lonlat->transform(source_to_wgs84.get()) != OGRERR_NONE) {
        throw ConfigError("cannot convert feature " + std::to_string(feature->GetFID()) + " of '" + o.path + "' to lon/lat");
      }
      if (!lonlat->Intersects(box.get())) {
        ++outside;
        continue;
      }
    }
    std::unique_ptr<OGRGeometry> projected(geom->clone());
    projected->flattenTo2D();
    if (projected->transform(to_target.get()) != OGRERR_NONE) {
      throw ConfigError("cannot reproject feature " + std::to_string(feature->GetFID()) + " of '" + o.path +
                        "' to EPSG:" + std::to_string(o.target_epsg));
    }
    Polyline line;
    collect_parts(projected.get(), line);
    if (line.parts.empty() || !(line.length() > 0) || !std::isfinite(line.length())) {  // a point, or unmeasurable
      ++not_lines;
      continue;
    }
    OGRPoint c;
    projected->Centroid(&c);
    double lon = c.getX(), lat = c.getY();
    to_wgs84->Transform(1, &lon, &lat);
    g.source_id.push_back(id_index >= 0 ? feature->GetFieldAsInteger64(id_index) : feature->GetFID());
    g.name.push_back(name_index >= 0 ? feature->GetFieldAsString(name_index) : "");
    g.x.push_back(c.getX());
    g.y.push_back(c.getY());
    g.lon.push_back(lon);
    g.lat.push_back(lat);
    g.length_m.push_back(line.length());
    lines.push_back(std::move(line));
  }
  if (lines.empty()) {
    throw DataError("'" + o.path + "': no line segments " + (box ? "inside the box" : "in the layer") + " (" +
                    std::to_string(read) + " features read)");
  }
  spdlog::info("{}: {} features, {} segments kept, {} outside the box, {} not lines", o.path, read, lines.size(), outside,
               not_lines);
  g.geometry = std::move(lines);
  connect_segments(g);
  g.validate();
  return g;
}

}  // namespace crimegraph
