#pragma once
// The dataset file: one HDF5 file per prepared dataset. The layout is documented in
// docs/dataset-format.md; readers reject other format versions and wrong shapes.
#include <string>

#include "crimegraph/data/dataset.hpp"

namespace crimegraph {

inline constexpr const char* kDatasetFormatName = "crimegraph-dataset";
inline constexpr int kDatasetFormatVersion = 1;

/// Writes `dataset` to `path` atomically (temporary name, then rename). Validates first.
void write_dataset(const CrimeDataset& dataset, const std::string& path);
enum class DatasetParts {
  All,       ///< everything in the file
  Training,  ///< graph, calendar, features and label: what training needs (no raw counts, no truth)
};
/// Reads and validates a dataset file; errors name the file and the problem.
CrimeDataset read_dataset(const std::string& path, DatasetParts parts = DatasetParts::All);
/// Reads only the street graph of a dataset file.
StreetGraph read_street_graph(const std::string& path);

}  // namespace crimegraph
