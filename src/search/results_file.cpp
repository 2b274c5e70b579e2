#include "crimegraph/search/results_file.hpp"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <tuple>

#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/io/hdf5.hpp"
#include "crimegraph/version.hpp"

namespace crimegraph {

// Rows are queued per column and written in batches: one HDF5 extend + write per column per
// flush, instead of one per value (which limits a fast search to a few hundred trials/s).
struct ResultsWriter::Impl {
  h5::File file;
  std::vector<std::string> hyperparameters;
  std::map<std::string, std::vector<std::int64_t>> int64s;
  std::map<std::string, std::vector<std::int32_t>> int32s;
  std::map<std::string, std::vector<double>> doubles;
  std::map<std::string, std::vector<std::string>> strings;
  std::size_t rows = 0;
  std::optional<std::tuple<TrialSpec, double, std::string>> best;
};

namespace {
const char* kInt64Columns[] = {"trial_id", "parent_id", "config_id"};
const char* kInt32Columns[] = {"iteration", "bracket", "round", "start_epoch", "end_epoch", "epochs_trained", "worker"};
const char* kDoubleColumns[] = {"val_hit_rate_best", "val_hit_rate_last", "train_loss", "val_loss",
                                "score",             "wall_seconds",      "train_seconds"};
}  // namespace

ResultsWriter::ResultsWriter(const std::string& path, const SearchMetadata& m, const SearchSpace& space)
    : path_(path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw IoError("cannot create the results folder '" + parent.string() + "': " + ec.message());
  }
  impl_.reset(new Impl{h5::File::create(partial_path()), {}, {}, {}, {}, {}, 0, std::nullopt});
  auto& f = impl_->file;
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
  for (auto c : kInt64Columns) f.create_column<std::int64_t>(std::string("trials/") + c);
  for (auto c : kInt32Columns) f.create_column<std::int32_t>(std::string("trials/") + c);
  for (auto c : kDoubleColumns) f.create_column<double>(std::string("trials/") + c);
  for (const auto& p : space.parameters()) {
    impl_->hyperparameters.push_back(p.name);
    f.create_column<double>("trials/" + p.name);
  }
  f.create_string_column("trials/status");
  f.create_string_column("trials/message");
  f.create_column<std::int64_t>("curves/trial_id", 1024);
  f.create_column<std::int32_t>("curves/epoch", 1024);
  for (auto c : {"train_loss", "val_loss", "val_hit_rate", "learning_rate", "train_seconds", "eval_seconds"}) {
    f.create_column<double>(std::string("curves/") + c, 1024);
  }
  f.flush();
}

ResultsWriter::~ResultsWriter() = default;

void ResultsWriter::add_trial(const TrialSpec& s, const TrialOutcome& o, double score) {
  auto& m = *impl_;
  const double nan = std::nan("");
  double train_seconds = 0.0;
  for (const auto& e : o.epochs) train_seconds += e.train_seconds + e.eval_seconds;
  m.int64s["trials/trial_id"].push_back(s.id);
  m.int64s["trials/parent_id"].push_back(s.parent_id);
  m.int64s["trials/config_id"].push_back(s.config_id);
  m.int32s["trials/iteration"].push_back(s.iteration);
  m.int32s["trials/bracket"].push_back(s.bracket);
  m.int32s["trials/round"].push_back(s.round);
  m.int32s["trials/start_epoch"].push_back(s.start_epoch);
  m.int32s["trials/end_epoch"].push_back(s.end_epoch);
  m.int32s["trials/epochs_trained"].push_back(static_cast<std::int32_t>(o.epochs.size()));
  m.int32s["trials/worker"].push_back(o.worker);
  m.doubles["trials/val_hit_rate_best"].push_back(o.epochs.empty() ? nan : o.best_hit_rate());
  m.doubles["trials/val_hit_rate_last"].push_back(o.epochs.empty() ? nan : o.last_hit_rate());
  m.doubles["trials/train_loss"].push_back(o.epochs.empty() ? nan : o.epochs.back().train_loss);
  m.doubles["trials/val_loss"].push_back(o.epochs.empty() ? nan : o.epochs.back().validation_loss);
  m.doubles["trials/score"].push_back(score);
  m.doubles["trials/wall_seconds"].push_back(o.wall_seconds);
  m.doubles["trials/train_seconds"].push_back(train_seconds);
  for (const auto& name : m.hyperparameters) {
    const auto it = s.config.find(name);
    m.doubles["trials/" + name].push_back(it == s.config.end() ? nan : it->second);
  }
  m.strings["trials/status"].push_back(trial_status_name(o.status));
  m.strings["trials/message"].push_back(o.message);
  for (const auto& e : o.epochs) {
    m.int64s["curves/trial_id"].push_back(s.id);
    m.int32s["curves/epoch"].push_back(e.epoch);
    m.doubles["curves/train_loss"].push_back(e.train_loss);
    m.doubles["curves/val_loss"].push_back(e.validation_loss);
    m.doubles["curves/val_hit_rate"].push_back(e.validation_hit_rate);
    m.doubles["curves/learning_rate"].push_back(e.learning_rate);
    m.doubles["curves/train_seconds"].push_back(e.train_seconds);
    m.doubles["curves/eval_seconds"].push_back(e.eval_seconds);
  }
  ++m.rows;
}

std::size_t ResultsWriter::queued() const { return impl_->rows; }

void ResultsWriter::flush() {
  auto& m = *impl_;
  auto write = [&](auto& columns) {
    for (auto& [name, values] : columns) {
      m.file.append(name, values.data(), values.size());
      values.clear();
    }
  };
  write(m.int64s);
  write(m.int32s);
  write(m.doubles);
  for (auto& [name, values] : m.strings) {
    m.file.append_strings(name, values);
    values.clear();
  }
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
  std::error_code ec;
  std::filesystem::rename(partial_path(), path_, ec);
  if (ec) throw IoError("cannot rename '" + partial_path() + "' to '" + path_ + "': " + ec.message());
}

}  // namespace crimegraph
