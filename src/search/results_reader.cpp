#include "crimegraph/search/results_reader.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <thread>

#include "crimegraph/error.hpp"
#include "crimegraph/io/hdf5.hpp"
#include "crimegraph/search/results_file.hpp"
#include "crimegraph/search/space.hpp"
#include "results_layout.hpp"

namespace crimegraph {

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::Int64: return "int64";
    case ValueType::Int32: return "int32";
    case ValueType::Float64: return "float64";
    case ValueType::String: return "string";
  }
  return "?";
}

std::size_t Column::size() const {
  switch (type) {
    case ValueType::Int64:
    case ValueType::Int32: return integers.size();
    case ValueType::Float64: return reals.size();
    case ValueType::String: return texts.size();
  }
  return 0;
}

double Column::number(std::size_t row) const {
  switch (type) {
    case ValueType::Int64:
    case ValueType::Int32: return static_cast<double>(integers.at(row));
    case ValueType::Float64: return reals.at(row);
    case ValueType::String: break;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::string Column::text(std::size_t row) const {
  switch (type) {
    case ValueType::Int64:
    case ValueType::Int32: return std::to_string(integers.at(row));
    case ValueType::Float64: {
      const double v = reals.at(row);
      if (std::isnan(v)) return "";
      std::ostringstream out;
      out.precision(17);
      out << v;
      return out.str();
    }
    case ValueType::String: return texts.at(row);
  }
  return "";
}

bool Table::has(const std::string& name) const {
  for (const auto& c : columns_)
    if (c.name == name) return true;
  return false;
}

const Column& Table::column(const std::string& name) const {
  for (const auto& c : columns_)
    if (c.name == name) return c;
  throw DataError("no column '" + name + "'");
}

void Table::add(Column column) {
  if (!columns_.empty() && column.size() != rows()) {
    throw DataError("column '" + column.name + "' has " + std::to_string(column.size()) + " rows, the table " +
                    std::to_string(rows()));
  }
  columns_.push_back(std::move(column));
}

double attribute_number(const Attributes& attributes, const std::string& name) {
  const auto it = attributes.find(name);
  if (it == attributes.end()) return std::numeric_limits<double>::quiet_NaN();
  switch (it->second.type) {
    case ValueType::Int64:
    case ValueType::Int32: return static_cast<double>(it->second.integer);
    case ValueType::Float64: return it->second.real;
    case ValueType::String: break;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

namespace {

Attributes read_attributes(const h5::File& f, const std::string& object) {
  Attributes out;
  if (!object.empty() && !f.exists(object)) return out;
  for (const auto& name : f.attribute_names(object)) {
    Attribute a;
    switch (f.attribute_class(object, name)) {
      case h5::File::AttributeClass::Integer:
        a.type = ValueType::Int64;
        a.integer = f.int_attribute(object, name);
        a.text = std::to_string(a.integer);
        break;
      case h5::File::AttributeClass::Real: {
        a.type = ValueType::Float64;
        a.real = f.double_attribute(object, name);
        std::ostringstream text;
        text.precision(17);
        text << a.real;
        a.text = text.str();
        break;
      }
      case h5::File::AttributeClass::String:
        a.type = ValueType::String;
        a.text = f.string_attribute(object, name);
        break;
      case h5::File::AttributeClass::Other: continue;
    }
    out.emplace(name, std::move(a));
  }
  return out;
}

// The first `rows` values of a column; a column a version-1 file lacks is filled (run 0,
// times NaN).
Column read_column(const h5::File& f, const std::string& path, const std::string& name, ValueType type,
                   std::uint64_t rows) {
  Column c;
  c.name = name;
  c.type = type;
  const bool present = f.exists(path);
  if (present && column_rows(f, path) < rows) {
    throw DataError("'" + f.path() + "': column '" + path + "' is shorter than the table");
  }
  switch (type) {
    case ValueType::Int64:
    case ValueType::Int32:
      if (!present) c.integers.assign(rows, 0);
      else if (type == ValueType::Int64) c.integers = f.read<std::int64_t>(path);
      else {
        const auto v = f.read<std::int32_t>(path);
        c.integers.assign(v.begin(), v.end());
      }
      c.integers.resize(rows);
      break;
    case ValueType::Float64:
      if (!present) c.reals.assign(rows, std::numeric_limits<double>::quiet_NaN());
      else c.reals = f.read<double>(path);
      c.reals.resize(rows);
      break;
    case ValueType::String:
      if (!present) c.texts.assign(rows, "");
      else c.texts = f.read_strings(path);
      c.texts.resize(rows);
      break;
  }
  return c;
}

Table read_curves(const h5::File& f, const std::string& group, std::uint64_t rows) {
  Table t;
  for (const auto& spec : kCurveColumns) t.add(read_column(f, group + "/" + spec.name, spec.name, spec.type, rows));
  return t;
}

std::string read_bytes(const h5::File& f, const std::string& dataset) {
  if (!f.exists(dataset)) return {};
  const auto bytes = f.read<std::uint8_t>(dataset);
  return std::string(bytes.begin(), bytes.end());
}

// The trial columns that are not the schema's, in the search space's order when its text parses.
std::vector<std::string> hyperparameter_columns(const h5::File& f, const std::string& space_text) {
  std::vector<std::string> found;
  for (const auto& name : f.members("trials")) {
    bool schema = false;
    for (const auto& c : kTrialColumns) schema = schema || name == c.name;
    if (!schema) found.push_back(name);
  }
  try {
    std::vector<std::string> ordered;
    const auto space = SearchSpace::parse(space_text);
    for (const auto& p : space.parameters())
      if (std::find(found.begin(), found.end(), p.name) != found.end()) ordered.push_back(p.name);
    if (ordered.size() == found.size()) return ordered;
  } catch (const ConfigError&) {
    // Not a space this build parses: keep the file's (alphabetical) order.
  }
  return found;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError("cannot read '" + path + "'");
  return bytes;
}

}  // namespace

ResultsReader::ResultsReader(const std::string& path) {
  namespace fs = std::filesystem;
  path_ = path;
  if (!fs::exists(path_) && fs::exists(partial_results_path(path))) path_ = partial_results_path(path);
  if (!fs::exists(path_)) throw IoError("no results file '" + path + "' (nor '" + partial_results_path(path) + "')");
  if (fs::is_directory(path_)) throw IoError("'" + path_ + "' is a folder, not a results file");
  // A complete file no longer changes. A running search's may be caught in the middle of a
  // flush: then the snapshot does not open or read, and a later one will.
  const bool running = path_.size() > 8 && path_.compare(path_.size() - 8, 8, ".partial") == 0;
  const int attempts = running ? 20 : 1;
  for (int attempt = 1;; ++attempt) {
    try {
      read_snapshot(file_bytes(path_));
      return;
    } catch (const DataError&) {
      throw;
    } catch (const Error&) {
      if (attempt >= attempts) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void ResultsReader::read_snapshot(const std::string& bytes) {
  if (bytes.size() < 8 || bytes.compare(0, 8, "\x89HDF\r\n\x1a\n") != 0) {
    throw DataError("'" + path_ + "' is not a crimegraph results file (not HDF5)");
  }
  const auto f = h5::File::open_image(bytes.data(), bytes.size(), path_);
  if (!f.has_attribute("", "format") || f.string_attribute("", "format") != kResultsFormatName) {
    throw DataError("'" + path_ + "' is not a crimegraph results file (no format attribute '" +
                    std::string(kResultsFormatName) + "')");
  }
  format_version_ = f.int_attribute("", "format_version");
  if (format_version_ < 1 || format_version_ > kResultsFormatVersion) {
    throw DataError("'" + path_ + "' is a results file of format version " + std::to_string(format_version_) +
                    "; this build reads versions 1 to " + std::to_string(kResultsFormatVersion));
  }
  settings_ = read_attributes(f, "");
  hyperparameters_ = hyperparameter_columns(f, setting("search_space"));
  // Version 1 lacks some schema columns: count whole trials over the columns it has.
  std::vector<std::string> present;
  for (const auto& name : results_trial_columns(hyperparameters_))
    if (f.exists(name)) present.push_back(name);
  const auto whole = whole_trials(f, present, results_curve_columns("curves"));
  trials_ = Table();
  for (const auto& spec : kTrialColumns) {
    trials_.add(read_column(f, std::string("trials/") + spec.name, spec.name, spec.type, whole.rows));
  }
  for (const auto& p : hyperparameters_) trials_.add(read_column(f, "trials/" + p, p, ValueType::Float64, whole.rows));
  curves_ = read_curves(f, "curves", whole.curve_rows);
  best_ = read_attributes(f, "best");
  final_ = read_attributes(f, "final");
  final_curves_ = Table();
  if (f.exists("final/curves/epoch")) final_curves_ = read_curves(f, "final/curves", column_rows(f, "final/curves/epoch"));
  best_checkpoint_ = read_bytes(f, kBestCheckpoint);
  final_checkpoint_ = read_bytes(f, kFinalCheckpoint);
}

bool ResultsReader::complete() const { return setting("status") == "complete"; }

std::string ResultsReader::setting(const std::string& name, const std::string& fallback) const {
  const auto it = settings_.find(name);
  return it == settings_.end() ? fallback : it->second.text;
}

}  // namespace crimegraph
