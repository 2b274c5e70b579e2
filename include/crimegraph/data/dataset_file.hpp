#pragma once
// The dataset file: one HDF5 file per prepared dataset. The layout is documented in
// docs/dataset-format.md; readers reject other format versions and wrong shapes.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "crimegraph/data/dataset.hpp"

namespace crimegraph {

inline constexpr const char* kDatasetFormatName = "crimegraph-dataset";
inline constexpr int kDatasetFormatVersion = 1;

/// Writes `dataset` to `path` atomically (temporary name, then rename). Validates first.
void write_dataset(const CrimeDataset& dataset, const std::string& path);
enum class DatasetParts {
  All,       ///< everything in the file
  Training,  ///< graph, calendar, features and label: what training needs (no raw counts, no truth)
  TrainingAndCounts,  ///< and the raw daily counts, to recompute the channels with another smoothing
};
/// Where a dataset file's bytes are read from: the file at `path`, or an image of the whole
/// file in memory (received from another rank, say), which `path` then only names.
struct DatasetSource {
  DatasetSource() = default;
  explicit DatasetSource(std::string file) : path(std::move(file)) {}

  std::string path;
  const void* image = nullptr;
  std::size_t image_size = 0;
  std::shared_ptr<const void> keep_alive;  ///< holds the image's memory, where something must

  bool in_memory() const { return image != nullptr; }
};
/// Reads and validates a dataset file; errors name the file and the problem.
CrimeDataset read_dataset(const DatasetSource& source, DatasetParts parts = DatasetParts::All);
CrimeDataset read_dataset(const std::string& path, DatasetParts parts = DatasetParts::All);
/// The number of days of a dataset file, without reading its arrays.
std::int32_t read_day_count(const std::string& path);
struct DatasetExtent {
  std::int64_t days = 0, nodes = 0, channels = 0;
  std::vector<std::string> channel_names, categories;
};
/// Days, street segments, feature channels and count categories of a dataset file, without
/// reading its arrays.
DatasetExtent read_dataset_extent(const std::string& path);
/// Reads only the street graph of a dataset file.
StreetGraph read_street_graph(const DatasetSource& source);
StreetGraph read_street_graph(const std::string& path);

}  // namespace crimegraph
