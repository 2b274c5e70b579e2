#pragma once
// Small fixtures the tests make for themselves.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "crimegraph/data/synthetic_city.hpp"

namespace crimegraph::fixture {

/// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("crimegraph-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// A small synthetic city: `nodes` segments, `days` days.
inline CrimeDataset small_city(std::int32_t nodes = 60, std::int32_t days = 200, std::uint64_t seed = 7) {
  StreetGridOptions grid;
  grid.nodes = nodes;
  grid.seed = seed;
  EventProcessOptions events;
  events.days = days;
  events.seed = seed;
  return simulate_city(synthetic_street_grid(grid), events);
}

/// Three east-west streets 0.01 degrees apart (about 1.1 km) in lon/lat, as GeoJSON.
inline constexpr const char* kThreeStreetsGeoJson = R"({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"OBJECTID": 1, "ROAD_NAME": "South"},
     "geometry": {"type": "LineString", "coordinates": [[-76.620, 39.300], [-76.610, 39.300]]}},
    {"type": "Feature", "properties": {"OBJECTID": 2, "ROAD_NAME": "Middle"},
     "geometry": {"type": "LineString", "coordinates": [[-76.620, 39.310], [-76.610, 39.310]]}},
    {"type": "Feature", "properties": {"OBJECTID": 3, "ROAD_NAME": "North"},
     "geometry": {"type": "LineString", "coordinates": [[-76.620, 39.320], [-76.610, 39.320]]}}]})";

/// A networkx-style MultiDiGraph in GraphML: a T of three segments around intersection 2, with
/// both directions of one two-way street.
inline constexpr const char* kTeeGraphMl = R"(<?xml version="1.0" encoding="utf-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="d0" for="graph" attr.name="crs" attr.type="string"/>
  <key id="d1" for="node" attr.name="y" attr.type="double"/>
  <key id="d2" for="node" attr.name="x" attr.type="double"/>
  <key id="d3" for="edge" attr.name="name" attr.type="string"/>
  <key id="d4" for="edge" attr.name="osmid" attr.type="string"/>
  <graph edgedefault="directed">
    <data key="d0">epsg:4326</data>
    <node id="1"><data key="d1">39.310</data><data key="d2">-76.620</data></node>
    <node id="2"><data key="d1">39.310</data><data key="d2">-76.615</data></node>
    <node id="3"><data key="d1">39.310</data><data key="d2">-76.610</data></node>
    <node id="4"><data key="d1">39.315</data><data key="d2">-76.615</data></node>
    <edge source="1" target="2"><data key="d3">North Ave</data><data key="d4">100</data></edge>
    <edge source="2" target="1"><data key="d3">North Ave</data><data key="d4">100</data></edge>
    <edge source="2" target="3"><data key="d3">North Ave</data><data key="d4">101</data></edge>
    <edge source="2" target="4"><data key="d3">Charles St</data><data key="d4">102</data></edge>
  </graph>
</graphml>)";

}  // namespace crimegraph::fixture
