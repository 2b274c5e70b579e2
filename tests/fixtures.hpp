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

}  // namespace crimegraph::fixture
