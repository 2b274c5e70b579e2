#pragma once
// What the results file's writer and reader share beyond the schema: the full column names
// and how many whole trials a file holds (a flush cut off by a crash, or read while the
// search writes, can leave columns of different lengths).
#include <cstdint>
#include <string>
#include <vector>

#include "crimegraph/io/hdf5.hpp"
#include "crimegraph/search/results_schema.hpp"

namespace crimegraph {

/// "trials/<name>" of every schema column, then of every hyperparameter.
std::vector<std::string> results_trial_columns(const std::vector<std::string>& hyperparameters);
/// "<group>/<name>" of every curve column ("curves" or "final/curves").
std::vector<std::string> results_curve_columns(const std::string& group);

struct WholeTrials {
  std::uint64_t rows = 0;        ///< trials whose row and epochs were all written
  std::uint64_t curve_rows = 0;  ///< their epochs
};
/// Over the given trial and curve columns (a version-1 file lacks some of the schema's).
WholeTrials whole_trials(const h5::File& f, const std::vector<std::string>& trial_columns,
                         const std::vector<std::string>& curve_columns);

/// Rows of a 1-D column (0 for an empty one).
std::uint64_t column_rows(const h5::File& f, const std::string& column);

}  // namespace crimegraph
