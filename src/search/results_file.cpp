#include "crimegraph/search/results_file.hpp"

#include <spdlog/fmt/fmt.h>

#include "results_layout.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <tuple>
#include <unordered_map>

#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/io/hdf5.hpp"
#include "crimegraph/version.hpp"

namespace crimegraph {

namespace {
// Rows are queued per column and written in batches: one HDF5 extend + write per column per
// flush, instead of one per value (which limits a fast search to a few hundred trials/s).
struct ColumnBuffers {
  std::map<std::string, std::vector<std::int64_t>> int64s;
  std::map<std::string, std::vector<std::int32_t>> int32s;
  std::map<std::string, std::vector<double>> doubles;
  std::map<std::string, std::vector<std::string>> strings;

  void add_epoch(const std::string& group, std::int64_t trial_id, const EpochRecord& e) {
    int64s[group + "/trial_id"].push_back(trial_id);
    int32s[group + "/epoch"].push_back(e.epoch);
    doubles[group + "/train_loss"].push_back(e.train_loss);
    doubles[group + "/val_loss"].push_back(e.validation_loss);
    doubles[group + "/val_hit_rate"].push_back(e.validation_hit_rate);
    doubles[group + "/val_hit_rate_low"].push_back(e.validation_low);
    doubles[group + "/val_hit_rate_high"].push_back(e.validation_high);
    doubles[group + "/learning_rate"].push_back(e.learning_rate);
    doubles[group + "/train_seconds"].push_back(e.train_seconds);
    doubles[group + "/eval_seconds"].push_back(e.eval_seconds);
  }
  void append_to(h5::File& f) {
    auto write = [&](auto& columns) {
      for (auto& [name, values] : columns) {
        f.append(name, values.data(), values.size());
        values.clear();
      }
    };
    write(int64s);
    write(int32s);
    write(doubles);
    for (auto& [name, values] : strings) {
      f.append_strings(name, values);
      values.clear();
    }
  }
};
}  // namespace

struct ResultsWriter::Impl {
  Impl(h5::File f, h5::File c) : file(std::move(f)), checkpoints(std::move(c)) {}
  h5::File file;
  h5::File checkpoints;
  std::vector<std::string> hyperparameters;
  ColumnBuffers queued;
  std::size_t rows = 0;
  std::int32_t run = 0;  // 0 for a new search, k for its k-th resume
  std::optional<std::tuple<TrialSpec, double, std::string>> best;
  std::vector<std::int64_t> checkpoint_ids, checkpoint_sizes;
  std::vector<std::uint8_t> checkpoint_bytes;
  // Where each kept checkpoint is: (offset, size) in the checkpoints file's bytes, or in
  // checkpoint_bytes while it waits for a flush.
  std::unordered_map<std::int64_t, std::pair<std::uint64_t, std::uint64_t>> on_file, in_queue;
  std::uint64_t bytes_on_file = 0;
  std::map<std::int64_t, RecordedTrial> recorded;
};

namespace {
std::string trial_column(const ColumnSpec& c) { return std::string("trials/") + c.name; }
std::string curve_column(const ColumnSpec& c) { return std::string("curves/") + c.name; }

TrialStatus parse_trial_status(const std::string& name, const std::string& file) {
  for (auto s : {TrialStatus::Ok, TrialStatus::Diverged, TrialStatus::Failed})
    if (name == trial_status_name(s)) return s;
  throw DataError("'" + file + "': unknown trial status '" + name + "'");
}

void create_column(h5::File& f, const std::string& name, ValueType type, std::uint64_t chunk) {
  switch (type) {
    case ValueType::Int64: f.create_column<std::int64_t>(name, chunk); break;
    case ValueType::Int32: f.create_column<std::int32_t>(name, chunk); break;
    case ValueType::Float64: f.create_column<double>(name, chunk); break;
    case ValueType::String: f.create_string_column(name, chunk); break;
  }
}

}  // namespace

std::vector<std::string> results_trial_columns(const std::vector<std::string>& hyperparameters) {
  std::vector<std::string> names;
  for (const auto& c : kTrialColumns) names.push_back(trial_column(c));
  for (const auto& p : hyperparameters) names.push_back("trials/" + p);
  return names;
}

std::vector<std::string> results_curve_columns(const std::string& group) {
  std::vector<std::string> names;
  for (const auto& c : kCurveColumns) names.push_back(group + "/" + c.name);
  return names;
}

std::uint64_t column_rows(const h5::File& f, const std::string& column) {
  const auto dims = f.shape(column);
  return dims.empty() ? 0 : dims[0];
}

namespace {
std::uint64_t shortest(const h5::File& f, const std::vector<std::string>& columns) {
  std::uint64_t rows = UINT64_MAX;
  for (const auto& name : columns) rows = std::min(rows, column_rows(f, name));
  return rows;
}
}  // namespace

WholeTrials whole_trials(const h5::File& f, const std::vector<std::string>& trial_columns,
                         const std::vector<std::string>& curve_columns) {
  WholeTrials w;
  w.rows = shortest(f, trial_columns);
  const auto epochs_trained = f.read<std::int32_t>("trials/epochs_trained");
  const std::uint64_t curve_rows = shortest(f, curve_columns);
  for (std::uint64_t i = 0; i < w.rows; ++i) {
    const auto epochs = static_cast<std::uint64_t>(std::max(0, epochs_trained[i]));
    if (w.curve_rows + epochs > curve_rows) {
      w.rows = i;
      break;
    }
    w.curve_rows += epochs;
  }
  return w;
}

namespace {
void cut_columns(h5::File& f, const std::vector<std::string>& columns, std::uint64_t rows) {
  for (const auto& name : columns) {
    if (column_rows(f, name) != rows) f.truncate_column(name, rows);
  }
}

using CheckpointIndex = std::unordered_map<std::int64_t, std::pair<std::uint64_t, std::uint64_t>>;

// Reads back what an unfinished search recorded, cutting every column back to the last trial
// whose row, epochs and checkpoint were all written (a crash can stop a flush part way). The
// checkpoints stay on file: `index` says where each one is, `bytes_on_file` how many there are.
std::map<std::int64_t, RecordedTrial> read_recorded(h5::File& f, h5::File& c, const std::vector<std::string>& hp,
                                                    CheckpointIndex& index, std::uint64_t& bytes_on_file) {
  const auto columns = results_trial_columns(hp), curves = results_curve_columns("curves");
  const std::vector<std::string> checkpoint_columns = {"trial_id", "size"};
  const auto [rows, epochs] = whole_trials(f, columns, curves);
  const auto epochs_trained = f.read<std::int32_t>("trials/epochs_trained");
  // Checkpoints are flushed before the rows of their trials, so a cut here loses no recorded trial's.
  std::uint64_t kept = shortest(c, checkpoint_columns);
  const auto checkpoint_ids = c.read<std::int64_t>("trial_id");
  const auto sizes = c.read<std::int64_t>("size");
  const auto bytes = column_rows(c, "bytes");
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < kept; ++i) {
    const auto n = static_cast<std::uint64_t>(sizes[i]);
    if (total + n > bytes) {
      kept = i;
      break;
    }
    index[checkpoint_ids[i]] = {total, n};
    total += n;
  }
  bytes_on_file = total;
  cut_columns(f, columns, rows);
  cut_columns(f, curves, epochs);
  cut_columns(c, checkpoint_columns, kept);
  cut_columns(c, {"bytes"}, total);

  const auto ids = f.read<std::int64_t>("trials/trial_id");
  const auto parents = f.read<std::int64_t>("trials/parent_id");
  const auto configs = f.read<std::int64_t>("trials/config_id");
  const auto starts = f.read<std::int32_t>("trials/start_epoch");
  const auto ends = f.read<std::int32_t>("trials/end_epoch");
  const auto workers = f.read<std::int32_t>("trials/worker");
  const auto at_report = f.read<std::int64_t>("trials/dispatched_at_report");
  const auto walls = f.read<double>("trials/wall_seconds");
  const auto runs = f.read<std::int32_t>("trials/run");
  const auto ended = f.read<double>("trials/end_seconds");
  const auto status = f.read_strings("trials/status");
  const auto messages = f.read_strings("trials/message");
  const auto curve_epoch = f.read<std::int32_t>("curves/epoch");
  std::map<std::string, std::vector<double>> curve;
  for (const auto& column : kCurveColumns)
    if (column.type == ValueType::Float64) curve[column.name] = f.read<double>(curve_column(column));
  std::map<std::int64_t, RecordedTrial> recorded;
  std::uint64_t e = 0;
  for (std::uint64_t i = 0; i < rows; ++i) {
    RecordedTrial t;
    t.parent_id = parents[i];
    t.config_id = configs[i];
    t.start_epoch = starts[i];
    t.end_epoch = ends[i];
    t.dispatched_at_report = at_report[i];
    t.row = static_cast<std::int64_t>(i);
    auto& o = t.outcome;
    o.id = ids[i];
    o.status = parse_trial_status(status[i], f.path());
    o.message = messages[i];
    o.worker = workers[i];
    o.wall_seconds = walls[i];
    t.run = runs[i];
    t.end_seconds = ended[i];
    for (std::int32_t k = 0; k < epochs_trained[i]; ++k, ++e) {
      EpochRecord r;
      r.epoch = curve_epoch[e];
      r.train_loss = curve["train_loss"][e];
      r.validation_loss = curve["val_loss"][e];
      r.validation_hit_rate = curve["val_hit_rate"][e];
      r.validation_low = curve["val_hit_rate_low"][e];
      r.validation_high = curve["val_hit_rate_high"][e];
      r.learning_rate = curve["learning_rate"][e];
      r.train_seconds = curve["train_seconds"][e];
      r.eval_seconds = curve["eval_seconds"][e];
      o.epochs.push_back(r);
    }
    if (!recorded.emplace(o.id, std::move(t)).second) {
      throw DataError("'" + f.path() + "': trial " + std::to_string(ids[i]) + " is recorded twice");
    }
  }
  return recorded;
}

// A random id shared by a search's results and checkpoints files, so that a checkpoints file
// copied from another search is refused instead of continuing this one's trials.
std::string new_search_id() {
  std::random_device device;
  std::string id;
  for (int i = 0; i < 4; ++i) id += fmt::format("{:08x}", device());
  return id;
}

void create_checkpoint_columns(h5::File& c, const std::string& search_id) {
  c.set_attribute("", "format", std::string("crimegraph-checkpoints"));
  c.set_attribute("", "search_id", search_id);
  c.create_column<std::int64_t>("trial_id");
  c.create_column<std::int64_t>("size");
  c.create_column<std::uint8_t>("bytes", 1 << 16);
}
}  // namespace

std::map<std::string, std::string> search_identity(const SearchMetadata& m) {
  return {{"name", m.name},         {"search_space", m.space_text}, {"plan", m.plan_text},
          {"variant", m.variant},   {"ranking", m.ranking},         {"objective", m.objective},
          {"dataset", m.dataset},   {"hit_rate", m.hit_rate},       {"seed", std::to_string(m.seed)}};
}

ResultsWriter::ResultsWriter(const std::string& path, const SearchMetadata& m, const SearchSpace& space,
                             ResultsOpen open)
    : path_(path) {
  namespace fs = std::filesystem;
  if (open == ResultsOpen::Resume) {
    if (!fs::exists(partial_path())) throw ConfigError("nothing to resume: no '" + partial_path() + "'");
    if (!fs::exists(checkpoints_path())) {
      throw DataError("cannot resume '" + partial_path() + "': its checkpoints '" + checkpoints_path() + "' are missing");
    }
    impl_ = std::make_unique<Impl>(h5::File::open_read_write(partial_path()),
                                   h5::File::open_read_write(checkpoints_path()));
    auto& f = impl_->file;
    if (!f.has_attribute("", "format") || f.string_attribute("", "format") != kResultsFormatName) {
      throw DataError("cannot resume '" + partial_path() + "': not a search results file");
    }
    if (const auto version = f.int_attribute("", "format_version"); version != kResultsFormatVersion) {
      throw DataError("cannot resume '" + partial_path() + "': its format version is " + std::to_string(version) +
                      ", this build resumes version " + std::to_string(kResultsFormatVersion) +
                      " (finish it with the build that started it, or start the search anew)");
    }
    // What a resumed search must share with the one that wrote the file: everything that decides
    // the trials and their scores (not the job file's text: options such as --progress-seconds may change).
    for (const auto& [name, value] : search_identity(m)) {
      const auto recorded = name == "seed" ? std::to_string(f.int_attribute("", name)) : f.string_attribute("", name);
      if (recorded != value) {
        throw ConfigError("cannot resume '" + partial_path() + "': it records another search (its " + name +
                          (name == "seed" ? " " + recorded + ", this job's " + value : std::string(" differs from this job's")) +
                          ")");
      }
    }
    const auto& c = impl_->checkpoints;
    if (!c.has_attribute("", "search_id") || !f.has_attribute("", "search_id") ||
        c.string_attribute("", "search_id") != f.string_attribute("", "search_id")) {
      throw DataError("cannot resume '" + partial_path() + "': '" + checkpoints_path() +
                      "' holds another search's checkpoints (its search_id differs)");
    }
    for (const auto& p : space.parameters()) impl_->hyperparameters.push_back(p.name);
    impl_->recorded = read_recorded(f, impl_->checkpoints, impl_->hyperparameters, impl_->on_file, impl_->bytes_on_file);
    impl_->run = static_cast<std::int32_t>((f.has_attribute("", "resumes") ? f.int_attribute("", "resumes") : 0) + 1);
    f.set_attribute("", "resumes", static_cast<std::int64_t>(impl_->run));
    f.set_attribute("", "resumed_utc", utc_timestamp());
    f.set_attribute("", "workers", static_cast<std::int64_t>(m.workers));
    f.flush();
    impl_->checkpoints.flush();
    return;
  }
  if (open == ResultsOpen::Create && fs::exists(path)) {
    throw ConfigError("'" + path + "' holds a finished search: remove it, choose another --out, or replace it "
                      "with --overwrite");
  }
  for (const auto& stale : {partial_path(), checkpoints_path()}) {
    if (fs::exists(stale)) {
      throw ConfigError("an unfinished search's '" + stale +
                        "' is in the way: resume it (crimegraph-search --resume) or remove it to start over");
    }
  }
  const auto parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) throw IoError("cannot create the results folder '" + parent.string() + "': " + ec.message());
  }
  impl_ = std::make_unique<Impl>(h5::File::create(partial_path()), h5::File::create(checkpoints_path()));
  const auto search_id = new_search_id();
  create_checkpoint_columns(impl_->checkpoints, search_id);
  impl_->checkpoints.flush();
  auto& f = impl_->file;
  f.set_attribute("", "search_id", search_id);
  f.set_attribute("", "format", std::string(kResultsFormatName));
  f.set_attribute("", "format_version", static_cast<std::int64_t>(kResultsFormatVersion));
  f.set_attribute("", "software_version", std::string(kVersion));
  f.set_attribute("", "status", std::string("running"));
  f.set_attribute("", "created_utc", utc_timestamp());
  f.set_attribute("", "name", m.name);
  f.set_attribute("", "job", m.job_text);
  f.set_attribute("", "search_space", m.space_text);
  f.set_attribute("", "plan", m.plan_text);
  f.set_attribute("", "variant", m.variant);
  f.set_attribute("", "ranking", m.ranking);
  f.set_attribute("", "objective", m.objective);
  f.set_attribute("", "dataset", m.dataset);
  f.set_attribute("", "hit_rate", m.hit_rate);
  f.set_attribute("", "seed", static_cast<std::int64_t>(m.seed));
  f.set_attribute("", "planned_trials", m.planned_trials);
  f.set_attribute("", "workers", static_cast<std::int64_t>(m.workers));
  for (const auto& c : kTrialColumns) create_column(f, trial_column(c), c.type, 256);
  for (const auto& p : space.parameters()) {
    impl_->hyperparameters.push_back(p.name);
    f.create_column<double>("trials/" + p.name);
  }
  for (const auto& c : kCurveColumns) create_column(f, curve_column(c), c.type, 1024);
  f.flush();
}

ResultsWriter::~ResultsWriter() = default;

void ResultsWriter::add_trial(const TrialSpec& s, const TrialOutcome& o, double score, const TrialTiming& timing) {
  auto& m = *impl_;
  auto& q = m.queued;
  const double nan = std::nan("");
  double train_seconds = 0.0;
  for (const auto& e : o.epochs) train_seconds += e.train_seconds + e.eval_seconds;
  q.int64s["trials/trial_id"].push_back(s.id);
  q.int64s["trials/parent_id"].push_back(s.parent_id);
  q.int64s["trials/config_id"].push_back(s.config_id);
  q.int32s["trials/iteration"].push_back(s.iteration);
  q.int32s["trials/bracket"].push_back(s.bracket);
  q.int32s["trials/round"].push_back(s.round);
  q.int32s["trials/start_epoch"].push_back(s.start_epoch);
  q.int32s["trials/end_epoch"].push_back(s.end_epoch);
  q.int32s["trials/epochs_trained"].push_back(static_cast<std::int32_t>(o.epochs.size()));
  q.int32s["trials/worker"].push_back(o.worker);
  q.int32s["trials/run"].push_back(m.run);
  q.int64s["trials/dispatch_order"].push_back(timing.dispatch_order);
  q.int64s["trials/dispatched_at_report"].push_back(timing.dispatched_at_report);
  q.doubles["trials/val_hit_rate_best"].push_back(o.epochs.empty() ? nan : o.best_hit_rate());
  q.doubles["trials/val_hit_rate_last"].push_back(o.epochs.empty() ? nan : o.last_hit_rate());
  q.doubles["trials/train_loss"].push_back(o.epochs.empty() ? nan : o.epochs.back().train_loss);
  q.doubles["trials/val_loss"].push_back(o.epochs.empty() ? nan : o.epochs.back().validation_loss);
  q.doubles["trials/score"].push_back(score);
  q.doubles["trials/wall_seconds"].push_back(o.wall_seconds);
  q.doubles["trials/train_seconds"].push_back(train_seconds);
  q.doubles["trials/start_seconds"].push_back(timing.start_seconds);
  q.doubles["trials/end_seconds"].push_back(timing.end_seconds);
  for (const auto& name : m.hyperparameters) {
    const auto it = s.config.find(name);
    q.doubles["trials/" + name].push_back(it == s.config.end() ? nan : it->second);
  }
  q.strings["trials/status"].push_back(trial_status_name(o.status));
  q.strings["trials/message"].push_back(o.message);
  for (const auto& e : o.epochs) q.add_epoch("curves", s.id, e);
  ++m.rows;
}

std::size_t ResultsWriter::queued() const { return impl_->rows; }

const std::map<std::int64_t, RecordedTrial>& ResultsWriter::recorded() const { return impl_->recorded; }

void ResultsWriter::add_checkpoint(std::int64_t trial_id, const std::string& checkpoint) {
  auto& m = *impl_;
  m.in_queue[trial_id] = {m.checkpoint_bytes.size(), checkpoint.size()};
  m.checkpoint_ids.push_back(trial_id);
  m.checkpoint_sizes.push_back(static_cast<std::int64_t>(checkpoint.size()));
  m.checkpoint_bytes.insert(m.checkpoint_bytes.end(), checkpoint.begin(), checkpoint.end());
}

void ResultsWriter::flush() {
  auto& m = *impl_;
  // Checkpoints first: a trial whose row reached the file has its checkpoint on disk too.
  if (!m.checkpoint_ids.empty()) {
    m.checkpoints.append("bytes", m.checkpoint_bytes.data(), m.checkpoint_bytes.size());
    m.checkpoints.append("size", m.checkpoint_sizes.data(), m.checkpoint_sizes.size());
    m.checkpoints.append("trial_id", m.checkpoint_ids.data(), m.checkpoint_ids.size());
    m.checkpoints.flush();
    for (const auto& [id, place] : m.in_queue) m.on_file[id] = {m.bytes_on_file + place.first, place.second};
    m.bytes_on_file += m.checkpoint_bytes.size();
    m.in_queue.clear();
    m.checkpoint_ids.clear();
    m.checkpoint_sizes.clear();
    m.checkpoint_bytes.clear();
  }
  m.queued.append_to(m.file);
  m.rows = 0;
  if (m.best) {
    const auto& [s, score, checkpoint] = *m.best;
    auto& f = m.file;
    if (f.exists("best")) f.remove("best");
    f.create_group("best");
    f.set_attribute("best", "trial_id", s.id);
    f.set_attribute("best", "config_id", s.config_id);
    f.set_attribute("best", "score", score);
    f.set_attribute("best", "end_epoch", static_cast<std::int64_t>(s.end_epoch));
    f.set_attribute("best", "configuration", describe(s.config));
    for (const auto& [k, v] : s.config) f.set_attribute("best", k, v);
    f.write("best/checkpoint", reinterpret_cast<const std::uint8_t*>(checkpoint.data()), {checkpoint.size()});
    m.best.reset();
  }
  m.file.flush();
}

bool ResultsWriter::has_checkpoint(std::int64_t trial_id) const {
  return impl_->in_queue.count(trial_id) > 0 || impl_->on_file.count(trial_id) > 0;
}

std::string ResultsWriter::checkpoint(std::int64_t trial_id) const {
  const auto& m = *impl_;
  if (const auto it = m.in_queue.find(trial_id); it != m.in_queue.end()) {
    const auto* start = m.checkpoint_bytes.data() + it->second.first;
    return std::string(reinterpret_cast<const char*>(start), it->second.second);
  }
  const auto it = m.on_file.find(trial_id);
  if (it == m.on_file.end()) throw Error("internal error: no checkpoint was kept for trial " + std::to_string(trial_id));
  const auto bytes = m.checkpoints.read_range<std::uint8_t>("bytes", it->second.first, it->second.second);
  return std::string(bytes.begin(), bytes.end());
}

void ResultsWriter::set_best(const TrialSpec& s, double score, const std::string& checkpoint) {
  TrialSpec copy = s;
  copy.parent_checkpoint.clear();
  impl_->best.emplace(std::move(copy), score, checkpoint);
}

void ResultsWriter::set_final(const FinalOutcome& r, const Configuration& config) {
  flush();
  auto& f = impl_->file;
  if (f.exists("final")) f.remove("final");
  f.create_group("final");
  f.set_attribute("final", "status", std::string(trial_status_name(r.status)));
  f.set_attribute("final", "message", r.message);
  f.set_attribute("final", "epochs", static_cast<std::int64_t>(r.epochs));
  f.set_attribute("final", "configuration", describe(config));
  f.set_attribute("final", "hit_rate", r.hit_rate_description);
  f.set_attribute("final", "best_val_hit_rate", r.best_validation_hit_rate);
  f.set_attribute("final", "test_hit_rate", r.test_hit_rate);
  f.set_attribute("final", "naive_test_hit_rate", r.naive);
  f.set_attribute("final", "historical_test_hit_rate", r.historical);
  if (r.oracle) f.set_attribute("final", "oracle_test_hit_rate", *r.oracle);
  const auto interval = [&](const std::string& name, const Interval& i) {
    if (!i.known()) return;
    f.set_attribute("final", name + "_low", i.low);
    f.set_attribute("final", name + "_high", i.high);
  };
  interval("test_hit_rate", r.test_interval);
  interval("naive_test_hit_rate", r.naive_interval);
  interval("historical_test_hit_rate", r.historical_interval);
  interval("oracle_test_hit_rate", r.oracle_interval);
  if (!r.best_baseline.empty()) {
    f.set_attribute("final", "best_baseline", r.best_baseline);
    f.set_attribute("final", "gain", r.gain);
    interval("gain", r.gain_interval);
  }
  for (const auto& c : kCurveColumns) create_column(f, "final/" + curve_column(c), c.type, 64);
  ColumnBuffers curves;
  for (const auto& e : r.history) curves.add_epoch("final/curves", -1, e);
  curves.append_to(f);
  if (!r.checkpoint.empty()) {
    f.write("final/checkpoint", reinterpret_cast<const std::uint8_t*>(r.checkpoint.data()), {r.checkpoint.size()});
  }
  f.flush();
}

void ResultsWriter::finish(double wall_seconds, double utilisation) {
  flush();
  auto& f = impl_->file;
  f.set_attribute("", "wall_seconds", wall_seconds);
  f.set_attribute("", "worker_utilisation", utilisation);
  f.set_attribute("", "status", std::string("complete"));
  f.set_attribute("", "finished_utc", utc_timestamp());
  f.close();
  impl_->checkpoints.close();
  std::error_code ec;
  std::filesystem::rename(partial_path(), path_, ec);
  if (ec) throw IoError("cannot rename '" + partial_path() + "' to '" + path_ + "': " + ec.message());
  // Only a resume reads the checkpoints, and a complete search has nothing to resume.
  std::filesystem::remove(checkpoints_path(), ec);
  if (ec) throw IoError("cannot remove '" + checkpoints_path() + "': " + ec.message());
}

}  // namespace crimegraph
