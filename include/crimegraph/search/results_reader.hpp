#pragma once
// Reads a search results file (docs/results-format.md) for reports and analysis: its settings,
// trials, learning curves, best trial and final retraining. A running search's ".partial"
// file is read from a snapshot of its bytes taken without locking it, so the search is never
// disturbed, and only its whole trials are kept: a flush the snapshot caught half way is
// left out, as a resume would leave it out.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crimegraph/search/results_schema.hpp"

namespace crimegraph {

/// One column of a table: integers (Int64 and Int32), reals or texts, by its type.
struct Column {
  std::string name;
  ValueType type = ValueType::Float64;
  std::vector<std::int64_t> integers;
  std::vector<double> reals;
  std::vector<std::string> texts;

  std::size_t size() const;
  bool numeric() const { return type != ValueType::String; }
  /// The value as a number (NaN for a text column).
  double number(std::size_t row) const;
  /// The value as CSV or a report prints it: integers plainly, reals with up to 17 digits
  /// (round-trips), NaN as empty.
  std::string text(std::size_t row) const;
};

class Table {
 public:
  std::size_t rows() const { return columns_.empty() ? 0 : columns_.front().size(); }
  const std::vector<Column>& columns() const { return columns_; }
  bool has(const std::string& name) const;
  /// Throws DataError naming the column when absent.
  const Column& column(const std::string& name) const;
  void add(Column column);

 private:
  std::vector<Column> columns_;
};

/// An attribute's value; integers and reals also as text.
struct Attribute {
  ValueType type = ValueType::String;
  std::int64_t integer = 0;
  double real = 0.0;
  std::string text;
};
using Attributes = std::map<std::string, Attribute>;

class ResultsReader {
 public:
  /// `path` is a results file, or the path a search was given while it still runs (its
  /// ".partial" is read then). Throws IoError when neither exists or cannot be read, DataError
  /// when it is not a crimegraph results file of a version this build reads.
  explicit ResultsReader(const std::string& path);

  /// The file actually read (the .partial one for a running search).
  const std::string& path() const { return path_; }
  bool complete() const;
  std::int64_t format_version() const { return format_version_; }
  /// The root attributes: the search's settings and provenance.
  const Attributes& settings() const { return settings_; }
  /// A root attribute as text; `fallback` when absent.
  std::string setting(const std::string& name, const std::string& fallback = "") const;
  /// The search space's hyperparameters, in its order (each one a column of trials()).
  const std::vector<std::string>& hyperparameters() const { return hyperparameters_; }
  /// Columns in schema order, then the hyperparameters; rows in completion order.
  const Table& trials() const { return trials_; }
  const Table& curves() const { return curves_; }
  /// /best's attributes (empty before the first finished trial) and /final's (empty unless the
  /// final retraining ran), with its curves.
  const Attributes& best() const { return best_; }
  const Attributes& final_result() const { return final_; }
  const Table& final_curves() const { return final_curves_; }
  /// The training state stored for the best trial or the final model (empty when absent).
  const std::string& best_checkpoint() const { return best_checkpoint_; }
  const std::string& final_checkpoint() const { return final_checkpoint_; }

 private:
  void read_snapshot(const std::string& bytes);

  std::string path_;
  std::int64_t format_version_ = 0;
  Attributes settings_, best_, final_;
  std::vector<std::string> hyperparameters_;
  Table trials_, curves_, final_curves_;
  std::string best_checkpoint_, final_checkpoint_;
};

/// A number attribute (integer or real) as double; NaN when absent or text.
double attribute_number(const Attributes& attributes, const std::string& name);

}  // namespace crimegraph
