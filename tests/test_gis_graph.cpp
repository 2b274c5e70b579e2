#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/data/gis_graph.hpp"
#include "crimegraph/error.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

namespace {

// A graph of hand-made projected lines.
StreetGraph lines_graph(const std::vector<Polyline>& lines, double alpha = 750.0) {
  StreetGraph g;
  g.alpha_m = alpha;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    g.source_id.push_back(static_cast<std::int64_t>(i));
    g.name.push_back("s" + std::to_string(i));
    g.x.push_back(0);
    g.y.push_back(0);
    g.lon.push_back(0);
    g.lat.push_back(0);
    g.length_m.push_back(lines[i].length());
  }
  g.geometry = lines;
  connect_segments(g);
  return g;
}

Polyline line(std::vector<std::pair<double, double>> points) { return Polyline{{std::move(points)}}; }

const Edge* find_edge(const StreetGraph& g, int u, int v) {
  for (const auto& e : g.edges)
    if (e.u == u && e.v == v) return &e;
  return nullptr;
}

}  // namespace

TEST(GisGraph, CrossingSegmentsMeetInTheMiddle) {
  // Two 200 m segments crossing at their midpoints: distance (100 + 100) / 2.
  const auto g = lines_graph({line({{0, 0}, {200, 0}}), line({{100, -100}, {100, 100}})});
  ASSERT_EQ(g.edges.size(), 1u);
  EXPECT_NEAR(g.edges[0].distance_m, 100.0, 1e-9);
  EXPECT_NEAR(g.edges[0].weight, std::exp(-100.0 * 100.0 / (2 * 750.0 * 750.0)), 1e-12);
}

TEST(GisGraph, TJunctionAndEndToEnd) {
  // 0: (0,0)-(300,0); 1 starts on 0 at x=100 and goes north; 2 continues 0 from its end.
  const auto g = lines_graph({line({{0, 0}, {300, 0}}), line({{100, 0}, {100, 50}}), line({{300, 0}, {400, 0}})});
  const auto* t = find_edge(g, 0, 1);
  ASSERT_NE(t, nullptr);
  EXPECT_NEAR(t->distance_m, (100.0 + 0.0) / 2, 1e-9);
  const auto* end = find_edge(g, 0, 2);
  ASSERT_NE(end, nullptr);
  EXPECT_NEAR(end->distance_m, (300.0 + 0.0) / 2, 1e-9);
  EXPECT_EQ(find_edge(g, 1, 2), nullptr);
  EXPECT_EQ(g.edges.size(), 2u);
}

TEST(GisGraph, SeveralMeetingPointsUseTheOneNearestTheFirstCentroid) {
  // 0 is a straight 400 m street; 1 is a U that touches it at x=50 and x=350.
  // The centroid of 0 is (200, 0): (50, 0) is 150 m from it, (300, 0) only 100 m, so it wins.
  const auto g = lines_graph({line({{0, 0}, {400, 0}}), line({{50, 0}, {50, 100}, {300, 100}, {300, 0}})});
  ASSERT_EQ(g.edges.size(), 1u);
  // Meeting at (300, 0): along 0 it is 300 m; along 1: 100 + 250 + 100 = 450 m.
  EXPECT_NEAR(g.edges[0].distance_m, (300.0 + 450.0) / 2, 1e-9);
}

TEST(GisGraph, OverlapsAreNotEdges) {
  // 1 runs along 0 for 100 m: a line intersection, not a meeting point.
  const auto g = lines_graph({line({{0, 0}, {200, 0}}), line({{100, 0}, {300, 0}}), line({{500, 0}, {600, 0}})});
  EXPECT_TRUE(g.edges.empty());
}

TEST(GisGraph, ProjectionAlongMultiPartLines) {
  Polyline p{{{{0, 0}, {100, 0}}, {{100, 50}, {100, 150}}}};
  EXPECT_NEAR(p.length(), 200.0, 1e-12);
  EXPECT_NEAR(p.project(50, 1), 50.0, 1e-12);
  EXPECT_NEAR(p.project(101, 120), 170.0, 1e-12);
  EXPECT_NEAR(p.distance2(100, 20), 400.0, 1e-12);
}

TEST(GisGraph, BoundingBoxParsing) {
  const auto b = parse_bbox("39.29,-76.68,39.35,-76.61");
  EXPECT_DOUBLE_EQ(b[1], -76.68);
  EXPECT_THROW(parse_bbox("39.29,-76.68,39.35"), ConfigError);
  EXPECT_THROW(parse_bbox("39.35,-76.68,39.29,-76.61"), ConfigError);
  EXPECT_THROW(parse_bbox("a,b,c,d"), ConfigError);
  EXPECT_THROW(parse_bbox("95,-76.68,96,-76.61"), ConfigError);
}

TEST(GisGraph, GeoJsonLayerReprojectedAndFiltered) {
  fixture::TempDir dir;
  // Two crossing streets and one far away, in lon/lat.
  std::ofstream(dir.file("streets.geojson")) << R"({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"OBJECTID": 11, "ROAD_NAME": "North Ave"},
     "geometry": {"type": "LineString", "coordinates": [[-76.620, 39.310], [-76.610, 39.310]]}},
    {"type": "Feature", "properties": {"OBJECTID": 12, "ROAD_NAME": "Charles St"},
     "geometry": {"type": "LineString", "coordinates": [[-76.615, 39.305], [-76.615, 39.315]]}},
    {"type": "Feature", "properties": {"OBJECTID": 13, "ROAD_NAME": "Far Rd"},
     "geometry": {"type": "LineString", "coordinates": [[-77.5, 39.0], [-77.4, 39.0]]}}]})";
  GisGraphOptions o;
  o.path = dir.file("streets.geojson");
  o.bbox = parse_bbox("39.30,-76.63,39.32,-76.60");
  const auto g = read_gis_street_graph(o);
  ASSERT_EQ(g.node_count(), 2);
  EXPECT_EQ(g.source_id[0], 11);
  EXPECT_EQ(g.name[1], "Charles St");
  EXPECT_EQ(g.crs, "EPSG:26985");
  EXPECT_NEAR(g.length_m[0], 862.0, 10.0);  // 0.01 degree of longitude at 39.3 N
  ASSERT_EQ(g.edges.size(), 1u);
  EXPECT_NEAR(g.edges[0].distance_m, 0.5 * (g.length_m[0] + g.length_m[1]) / 2, 5.0);
  EXPECT_NEAR(g.lat[0], 39.310, 1e-4);
  // Without the box, the far road stays.
  o.bbox.reset();
  EXPECT_EQ(read_gis_street_graph(o).node_count(), 3);
  // Bad inputs.
  o.path = dir.file("missing.shp");
  EXPECT_THROW(read_gis_street_graph(o), IoError);
  o.path = dir.file("streets.geojson");
  o.target_epsg = 999999;
  EXPECT_THROW(read_gis_street_graph(o), ConfigError);
}

TEST(GisGraph, GraphMlFromOsmnx) {
  fixture::TempDir dir;
  std::ofstream(dir.file("t.graphml")) << fixture::kTeeGraphMl;
  const auto g = read_graphml_street_graph(dir.file("t.graphml"), 26985, 750.0);
  ASSERT_EQ(g.node_count(), 3);
  EXPECT_EQ(g.edges.size(), 3u);  // all three meet at node 2
  EXPECT_EQ(g.name[2], "Charles St");
  EXPECT_EQ(g.source_id[1], 101);
  EXPECT_THROW(read_graphml_street_graph(dir.file("none.graphml"), 26985, 750.0), IoError);
}

TEST(GisGraph, NodesAndEdgesCsv) {
  fixture::TempDir dir;
  std::ofstream(dir.file("nodes.csv")) << "id,name,x,y,length_m\na,\"Main St, North\",0,0,100\nb,Side,100,0,80\nc,Far,900,0,50\n";
  std::ofstream(dir.file("edges.csv")) << "u,v,distance_m\na,b,50\nb,a,50\n";
  const auto g = read_csv_street_graph(dir.file("nodes.csv"), dir.file("edges.csv"), 750.0);
  ASSERT_EQ(g.node_count(), 3);
  EXPECT_EQ(g.name[0], "Main St, North");
  ASSERT_EQ(g.edges.size(), 1u);
  EXPECT_NEAR(g.edges[0].weight, std::exp(-2500.0 / (2 * 750.0 * 750.0)), 1e-12);
  std::ofstream(dir.file("bad-edges.csv")) << "u,v,distance_m\na,z,50\n";
  EXPECT_THROW(read_csv_street_graph(dir.file("nodes.csv"), dir.file("bad-edges.csv"), 750.0), DataError);
  std::ofstream(dir.file("no-dist.csv")) << "u,v\na,b\n";
  EXPECT_THROW(read_csv_street_graph(dir.file("nodes.csv"), dir.file("no-dist.csv"), 750.0), DataError);
}

TEST(GisGraph, CentralBaltimoreAcceptance) {
  const std::string shp = std::string(CRIMEGRAPH_SHARED_DATA) + "/baltimore-streets/MDOT_Know_Your_Roads.shp";
  if (!std::filesystem::exists(shp)) GTEST_SKIP() << "Baltimore street data not found at " << shp;
  GisGraphOptions o;
  o.path = shp;
  o.bbox = parse_bbox("39.293781858831856,-76.6798709073914,39.354471979447325,-76.61436168242447");
  const auto t0 = std::chrono::steady_clock::now();
  const auto g = read_gis_street_graph(o);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(g.node_count(), 1177);
  EXPECT_EQ(g.edges.size(), 3469u);
  RecordProperty("build_seconds", std::to_string(seconds));
  // The committed graph is this one.
  const auto committed = read_street_graph(std::string(CRIMEGRAPH_SOURCE_DIR) + "/data/central-baltimore/streets.h5");
  EXPECT_EQ(committed.node_count(), 1177);
  EXPECT_EQ(committed.edges.size(), 3469u);
  EXPECT_EQ(committed.source_id, g.source_id);
}

// A geographic CRS (degrees) or one in feet was taken as metres: distances, lengths and the
// adjacency kernel would all be wrong by orders of magnitude.
TEST(GisGraph, OnlyMetricTargetsAreAccepted) {
  EXPECT_NO_THROW(check_metric_crs(26985));  // Maryland State Plane, metres
  EXPECT_NO_THROW(check_metric_crs(32618));  // UTM 18N
  for (int epsg : {4326, 4269, 2248}) {      // WGS 84, NAD83 (degrees); Maryland State Plane in US feet
    try {
      check_metric_crs(epsg);
      ADD_FAILURE() << "EPSG:" << epsg << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("EPSG:" + std::to_string(epsg)), std::string::npos) << e.what();
    }
  }
}
