// Reading results files back: every column round-trips, a running search's .partial file is
// read while its writer holds it open, a flush cut off part way is left out; the report's
// numbers against an independent count of the file's raw columns; CSV, JSON and the Python
// module; crimegraph-report's errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "crimegraph/cluster/coordinator.hpp"
#include "crimegraph/cluster/objective.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/hdf5.hpp"
#include "crimegraph/search/report.hpp"
#include "crimegraph/search/results_file.hpp"
#include "crimegraph/search/results_reader.hpp"
#include "fixtures.hpp"
#include "process.hpp"

using namespace crimegraph;

namespace {

const std::string kReport = CRIMEGRAPH_REPORT_EXE;
const std::string kSource = CRIMEGRAPH_SOURCE_DIR;

const SearchSpace& space() {
  static const auto s = SearchSpace::parse(
      "[space]\nloss_rho = float 0.01 0.03 step=0.01 default=0.02\nnum_ldn_layers = int 1 6 default=5\n");
  return s;
}

SearchMetadata metadata() {
  SearchMetadata m;
  m.name = "reader-test";
  m.job_text = "name = reader-test\n";
  m.space_text = space().to_text();
  m.plan_text = "plan";
  m.variant = "keras";
  m.ranking = "best-epoch";
  m.objective = "gldnet";
  m.dataset = "city.h5";
  m.hit_rate = "hit rate";
  m.seed = 5;
  m.planned_trials = 4;
  m.workers = 2;
  return m;
}

TrialSpec trial(std::int64_t id) {
  TrialSpec s;
  s.id = id;
  s.parent_id = id >= 2 ? id - 2 : -1;
  s.config_id = id % 2;
  s.iteration = 0;
  s.bracket = 1;
  s.round = id >= 2 ? 1 : 0;
  s.start_epoch = id >= 2 ? 1 : 0;
  s.end_epoch = id >= 2 ? 3 : 1;
  s.config = {{"loss_rho", 0.01 * static_cast<double>(id % 2 + 1)}, {"num_ldn_layers", static_cast<double>(id + 1)}};
  return s;
}

TrialOutcome outcome(std::int64_t id) {
  const auto spec = trial(id);
  TrialOutcome o;
  o.id = id;
  o.worker = static_cast<std::int32_t>(id % 2 + 1);
  o.wall_seconds = 1.25 * static_cast<double>(id + 1);
  for (std::int32_t e = spec.start_epoch + 1; e <= spec.end_epoch; ++e) {
    EpochRecord r;
    r.epoch = e;
    r.train_loss = 0.5 / e + static_cast<double>(id);
    r.validation_loss = 0.25 / e;
    r.validation_hit_rate = 0.5 + 0.01 * static_cast<double>(id) + 0.001 * e;
    r.learning_rate = 0.03 * e;
    r.train_seconds = 0.5 + id;
    r.eval_seconds = 0.125;
    o.epochs.push_back(r);
  }
  o.checkpoint = "state " + std::to_string(id);
  if (id == 3) {
    o.status = TrialStatus::Diverged;
    o.message = "loss went to NaN, at epoch 3";
  }
  return o;
}

double score_of(std::int64_t id) { return id == 3 ? std::nan("") : outcome(id).best_hit_rate(); }

void add(ResultsWriter& w, std::int64_t id) {
  w.add_checkpoint(id, outcome(id).checkpoint);
  w.add_trial(trial(id), outcome(id), score_of(id), {10.0 * id, 10.0 * id + 5.0});
}

FinalOutcome final_outcome() {
  FinalOutcome f;
  f.epochs = 2;
  f.test_hit_rate = 0.61;
  f.naive = 0.4;
  f.historical = 0.45;
  f.oracle = 0.7;
  f.best_validation_hit_rate = 0.6;
  f.hit_rate_description = "hit rate";
  f.checkpoint = "final model state";
  for (std::int32_t e = 1; e <= 2; ++e) {
    EpochRecord r;
    r.epoch = e;
    r.train_loss = 1.0 / e;
    r.validation_loss = 2.0 / e;
    r.validation_hit_rate = 0.55 + 0.01 * e;
    r.learning_rate = 0.03;
    r.train_seconds = 1.5;
    r.eval_seconds = 0.25;
    f.history.push_back(r);
  }
  return f;
}

std::string write_complete(const fixture::TempDir& dir) {
  const auto path = dir.file("results.h5");
  ResultsWriter w(path, metadata(), space());
  for (std::int64_t id = 0; id < 4; ++id) add(w, id);
  w.set_best(trial(2), score_of(2), outcome(2).checkpoint);
  w.flush();
  w.set_final(final_outcome(), trial(2).config);
  w.finish(42.0, 0.875);
  return path;
}

void expect_epochs_equal(const Table& curves, std::size_t row, std::int64_t trial_id, const EpochRecord& e) {
  EXPECT_EQ(curves.column("trial_id").integers[row], trial_id);
  EXPECT_EQ(curves.column("epoch").integers[row], e.epoch);
  EXPECT_EQ(curves.column("train_loss").reals[row], e.train_loss);
  EXPECT_EQ(curves.column("val_loss").reals[row], e.validation_loss);
  EXPECT_EQ(curves.column("val_hit_rate").reals[row], e.validation_hit_rate);
  EXPECT_EQ(curves.column("learning_rate").reals[row], e.learning_rate);
  EXPECT_EQ(curves.column("train_seconds").reals[row], e.train_seconds);
  EXPECT_EQ(curves.column("eval_seconds").reals[row], e.eval_seconds);
}

// A small real search (in process, null objective): 2 brackets of the keras variant.
std::string null_search(const fixture::TempDir& dir, const std::string& name) {
  SearchSettings settings;
  settings.hyperband.max_epochs = 9;
  settings.hyperband.factor = 3;
  settings.space = SearchSpace::original_study();
  settings.final_epochs = 3;
  settings.progress_seconds = 1000;
  settings.metadata = metadata();
  settings.metadata.objective = "null";
  settings.metadata.space_text = settings.space.to_text();
  settings.results_path = dir.file(name);
  auto null = make_null_objective();
  auto pool = make_in_process_pool(*null);
  run_search(settings, *pool);
  return settings.results_path;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
    else if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

bool python_has(const std::string& modules) {
  return fixture::run_command("/usr/bin/python3 -c 'import " + modules + "'").exit_code == 0;
}

}  // namespace

TEST(ResultsReader, RoundTripsEveryColumn) {
  fixture::TempDir dir;
  const auto path = write_complete(dir);
  const ResultsReader r(path);
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(r.format_version(), kResultsFormatVersion);
  EXPECT_EQ(r.setting("name"), "reader-test");
  EXPECT_EQ(attribute_number(r.settings(), "seed"), 5.0);
  EXPECT_EQ(attribute_number(r.settings(), "wall_seconds"), 42.0);
  EXPECT_EQ(r.hyperparameters(), (std::vector<std::string>{"loss_rho", "num_ldn_layers"}));

  const auto& t = r.trials();
  ASSERT_EQ(t.rows(), 4u);
  // Every schema column and every hyperparameter, in that order.
  ASSERT_EQ(t.columns().size(), std::size(kTrialColumns) + 2);
  std::size_t curve_row = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto id = static_cast<std::int64_t>(i);
    const auto s = trial(id);
    const auto o = outcome(id);
    EXPECT_EQ(t.column("trial_id").integers[i], id);
    EXPECT_EQ(t.column("parent_id").integers[i], s.parent_id);
    EXPECT_EQ(t.column("config_id").integers[i], s.config_id);
    EXPECT_EQ(t.column("iteration").integers[i], s.iteration);
    EXPECT_EQ(t.column("bracket").integers[i], s.bracket);
    EXPECT_EQ(t.column("round").integers[i], s.round);
    EXPECT_EQ(t.column("start_epoch").integers[i], s.start_epoch);
    EXPECT_EQ(t.column("end_epoch").integers[i], s.end_epoch);
    EXPECT_EQ(t.column("epochs_trained").integers[i], static_cast<std::int64_t>(o.epochs.size()));
    EXPECT_EQ(t.column("worker").integers[i], o.worker);
    EXPECT_EQ(t.column("run").integers[i], 0);
    EXPECT_EQ(t.column("val_hit_rate_best").reals[i], o.best_hit_rate());
    EXPECT_EQ(t.column("val_hit_rate_last").reals[i], o.last_hit_rate());
    EXPECT_EQ(t.column("train_loss").reals[i], o.epochs.back().train_loss);
    EXPECT_EQ(t.column("val_loss").reals[i], o.epochs.back().validation_loss);
    if (id == 3) EXPECT_TRUE(std::isnan(t.column("score").reals[i]));
    else EXPECT_EQ(t.column("score").reals[i], score_of(id));
    EXPECT_EQ(t.column("wall_seconds").reals[i], o.wall_seconds);
    double train = 0.0;
    for (const auto& e : o.epochs) train += e.train_seconds + e.eval_seconds;
    EXPECT_EQ(t.column("train_seconds").reals[i], train);
    EXPECT_EQ(t.column("start_seconds").reals[i], 10.0 * id);
    EXPECT_EQ(t.column("end_seconds").reals[i], 10.0 * id + 5.0);
    EXPECT_EQ(t.column("status").texts[i], trial_status_name(o.status));
    EXPECT_EQ(t.column("message").texts[i], o.message);
    EXPECT_EQ(t.column("loss_rho").reals[i], s.config.at("loss_rho"));
    EXPECT_EQ(t.column("num_ldn_layers").reals[i], s.config.at("num_ldn_layers"));
    for (const auto& e : o.epochs) expect_epochs_equal(r.curves(), curve_row++, id, e);
  }
  EXPECT_EQ(r.curves().rows(), curve_row);

  EXPECT_EQ(attribute_number(r.best(), "trial_id"), 2.0);
  EXPECT_EQ(r.best_checkpoint(), outcome(2).checkpoint);
  const auto f = final_outcome();
  EXPECT_EQ(attribute_number(r.final_result(), "test_hit_rate"), f.test_hit_rate);
  EXPECT_EQ(attribute_number(r.final_result(), "oracle_test_hit_rate"), *f.oracle);
  EXPECT_EQ(r.final_checkpoint(), f.checkpoint);
  ASSERT_EQ(r.final_curves().rows(), f.history.size());
  for (std::size_t k = 0; k < f.history.size(); ++k) expect_epochs_equal(r.final_curves(), k, -1, f.history[k]);
}

TEST(ResultsReader, ReadsARunningSearchWhileItsWriterHoldsTheFile) {
  fixture::TempDir dir;
  const auto path = dir.file("running.h5");
  ResultsWriter w(path, metadata(), space());
  add(w, 0);
  add(w, 1);
  w.flush();
  add(w, 2);  // queued, not yet flushed: not in the file
  const ResultsReader r(path);  // the final name: falls back to the .partial file
  EXPECT_EQ(r.path(), partial_results_path(path));
  EXPECT_FALSE(r.complete());
  EXPECT_EQ(r.trials().rows(), 2u);
  EXPECT_EQ(r.curves().rows(), 2u);
  EXPECT_TRUE(r.final_result().empty());
  w.flush();
  EXPECT_EQ(ResultsReader(path).trials().rows(), 3u);  // and the writer goes on undisturbed
  add(w, 3);
  w.flush();
  EXPECT_EQ(ResultsReader(path).trials().rows(), 4u);
}

TEST(ResultsReader, LeavesOutATrialWhoseFlushWasCutOff) {
  fixture::TempDir dir;
  const auto path = dir.file("cut.h5");
  {
    ResultsWriter w(path, metadata(), space());
    for (std::int64_t id = 0; id < 3; ++id) add(w, id);
    w.flush();
  }
  // As if the writer stopped after the trial rows but before the last trial's two epochs.
  h5::File::open_read_write(partial_results_path(path)).truncate_column("curves/val_hit_rate", 3);
  const ResultsReader r(path);
  EXPECT_EQ(r.trials().rows(), 2u);
  EXPECT_EQ(r.curves().rows(), 2u);
  EXPECT_EQ(r.trials().column("trial_id").integers.back(), 1);
}

TEST(ResultsReader, RefusesWhatIsNotAResultsFile) {
  fixture::TempDir dir;
  EXPECT_THROW(ResultsReader(dir.file("missing.h5")), IoError);
  {
    std::ofstream(dir.file("text.h5")) << "not hdf5 at all\n";
  }
  EXPECT_THROW(ResultsReader(dir.file("text.h5")), DataError);
  h5::write_atomically(dir.file("dataset.h5"), [](h5::File& f) { f.set_attribute("", "format", std::string("crimegraph-dataset")); });
  try {
    ResultsReader r(dir.file("dataset.h5"));
    FAIL() << "a dataset file was read as results";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("not a crimegraph results file"), std::string::npos) << e.what();
  }
}

TEST(Report, CountsAgreeWithAnIndependentCountOfTheFile) {
  fixture::TempDir dir;
  const auto path = null_search(dir, "null.h5");
  const ResultsReader r(path);
  const auto s = summarize(r, 5);

  // The raw columns, straight from HDF5.
  const auto f = h5::File::open_read(path);
  const auto ids = f.read<std::int64_t>("trials/trial_id");
  const auto parents = f.read<std::int64_t>("trials/parent_id");
  const auto configs = f.read<std::int64_t>("trials/config_id");
  const auto brackets = f.read<std::int32_t>("trials/bracket");
  const auto rounds = f.read<std::int32_t>("trials/round");
  const auto scores = f.read<double>("trials/score");
  const auto status = f.read_strings("trials/status");
  EXPECT_EQ(s.finished, static_cast<std::int64_t>(ids.size()));
  EXPECT_EQ(s.planned, f.int_attribute("", "planned_trials"));
  std::map<std::string, std::int64_t> by_status;
  for (const auto& x : status) ++by_status[x];
  EXPECT_EQ(s.by_status.at("ok"), by_status["ok"]);
  EXPECT_EQ(s.by_status.at("ok") + s.by_status.at("diverged") + s.by_status.at("failed"), s.finished);

  std::map<std::pair<int, int>, std::int64_t> per_round;
  for (std::size_t i = 0; i < ids.size(); ++i) ++per_round[{brackets[i], rounds[i]}];
  ASSERT_EQ(s.rounds.size(), per_round.size());
  const std::set<std::int64_t> promoted(parents.begin(), parents.end());
  for (const auto& round : s.rounds) {
    EXPECT_EQ(round.trials, (per_round[{round.bracket, round.round}])) << round.bracket << "/" << round.round;
    std::int64_t n = 0;
    double cutoff = 1e9;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (brackets[i] == round.bracket && rounds[i] == round.round && promoted.count(ids[i])) {
        ++n;
        cutoff = std::min(cutoff, scores[i]);
      }
    }
    EXPECT_EQ(round.promoted, n);
    if (n > 0) EXPECT_EQ(round.cutoff, cutoff);
  }
  EXPECT_GT(s.rounds.front().promoted, 0);

  // Top 5: the best score of each configuration, highest first.
  std::map<std::int64_t, double> best_by_config;
  for (std::size_t i = 0; i < ids.size(); ++i)
    best_by_config[configs[i]] = std::max(best_by_config.count(configs[i]) ? best_by_config[configs[i]] : -1.0, scores[i]);
  std::vector<double> expected;
  for (const auto& [config, score] : best_by_config) expected.push_back(score);
  std::sort(expected.rbegin(), expected.rend());
  ASSERT_EQ(s.top.size(), 5u);
  for (std::size_t k = 0; k < 5; ++k) EXPECT_EQ(r.trials().column("score").reals[s.top[k]], expected[k]);

  std::ostringstream report;
  print_report(r, s, report);
  EXPECT_NE(report.str().find(std::to_string(s.finished) + " of " + std::to_string(s.planned) + " finished"),
            std::string::npos) << report.str();
}

TEST(Report, CsvHasEveryRowAndColumn) {
  fixture::TempDir dir;
  const auto path = write_complete(dir);
  const ResultsReader r(path);
  std::ostringstream csv;
  write_csv(r.trials(), {}, csv);
  std::istringstream in(csv.str());
  std::string line;
  std::getline(in, line);
  const auto header = split_csv_line(line);
  ASSERT_EQ(header.size(), r.trials().columns().size());
  std::size_t rows = 0;
  while (std::getline(in, line)) {
    const auto fields = split_csv_line(line);
    ASSERT_EQ(fields.size(), header.size()) << line;
    for (std::size_t k = 0; k < header.size(); ++k) EXPECT_EQ(fields[k], r.trials().columns()[k].text(rows));
    ++rows;
  }
  EXPECT_EQ(rows, r.trials().rows());
  EXPECT_THROW(write_csv(r.trials(), {"trial_id", "no_such_column"}, csv), ConfigError);
}

TEST(Report, JsonAndCsvLoadInPython) {
  if (!python_has("pandas, json")) GTEST_SKIP() << "needs Debian's python3-pandas";
  fixture::TempDir dir;
  const auto path = null_search(dir, "null.h5");
  const ResultsReader r(path);
  ASSERT_EQ(fixture::run_command(kReport + " " + path + " --csv " + dir.file("t.csv") + " --json " + dir.file("s.json")).exit_code, 0);
  const auto check = fixture::run_command(
      "/usr/bin/python3 -c \"import json, pandas; t = pandas.read_csv('" + dir.file("t.csv") + "'); s = json.load(open('" +
      dir.file("s.json") + "')); print(len(t), len(t.columns), s['finished'], s['by_status']['ok'], len(s['top']))\"");
  ASSERT_EQ(check.exit_code, 0) << check.output;
  std::ostringstream expected;
  expected << r.trials().rows() << " " << r.trials().columns().size() << " " << r.trials().rows() << " "
           << summarize(r).by_status.at("ok") << " " << summarize(r).top.size() << "\n";
  EXPECT_EQ(check.output, expected.str());
}

TEST(Report, PythonModuleLoadsFinishedAndPartialFiles) {
  if (!python_has("h5py, pandas")) GTEST_SKIP() << "needs Debian's python3-h5py and python3-pandas";
  fixture::TempDir dir;
  const auto complete = write_complete(dir);
  const auto running = dir.file("running.h5");
  ResultsWriter w(running, metadata(), space());
  add(w, 0);
  add(w, 1);
  w.flush();
  const std::string script = "import sys; sys.path.insert(0, '" + kSource + "/python'); import crimegraph_results as cr; ";
  for (const auto& [path, expected] : {std::pair{complete, std::string("4 6 True 2 0.61")},
                                       std::pair{running, std::string("2 2 False 0 nan")}}) {
    const auto out = fixture::run_command(
        "/usr/bin/python3 -c \"" + script + "r = cr.load('" + path + "'); print(len(r.trials), len(r.curves), r.complete, "
        "len(r.final_curves), r.final.get('test_hit_rate', float('nan')))\"");
    ASSERT_EQ(out.exit_code, 0) << out.output;
    EXPECT_EQ(out.output, expected + "\n");
  }
}

TEST(Report, PlotsWritePngFigures) {
  if (!python_has("h5py, pandas, matplotlib")) GTEST_SKIP() << "needs Debian's python3-h5py, -pandas, -matplotlib";
  fixture::TempDir dir;
  // A real (null-objective) search for the search's figures; the written file for the final
  // retraining's, which the null objective does not train.
  const auto search = fixture::run_command(kReport + " " + null_search(dir, "null.h5") + " --plots " + dir.file("plots"));
  ASSERT_EQ(search.exit_code, 0) << search.output;
  const auto written = fixture::run_command(kReport + " " + write_complete(dir) + " --plots " + dir.file("final"));
  ASSERT_EQ(written.exit_code, 0) << written.output;
  for (const char* name : {"plots/curves", "plots/best_so_far", "plots/hyperparameters", "plots/waterfall",
                           "plots/timeline", "final/final"}) {
    const auto png = dir.file(std::string(name) + ".png");
    std::ifstream in(png, std::ios::binary);
    ASSERT_TRUE(in) << png;
    std::string header(24, '\0');
    in.read(header.data(), 24);
    ASSERT_EQ(header.substr(1, 3), "PNG") << png;
    // Width and height, big-endian in the IHDR chunk: as the figure sizes ask, at 110 dpi.
    const auto be32 = [&](int at) {
      return (static_cast<unsigned char>(header[at]) << 24) | (static_cast<unsigned char>(header[at + 1]) << 16) |
             (static_cast<unsigned char>(header[at + 2]) << 8) | static_cast<unsigned char>(header[at + 3]);
    };
    EXPECT_GE(be32(16), 600) << png;
    EXPECT_GE(be32(20), 250) << png;
    EXPECT_GT(std::filesystem::file_size(png), 10000u) << png;
  }
}

TEST(Report, ToolRefusesAFileThatIsNotResultsWithOneLine) {
  fixture::TempDir dir;
  {
    std::ofstream(dir.file("notes.h5")) << "hello\n";
  }
  const auto out = fixture::run_command(kReport + " " + dir.file("notes.h5"));
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(std::count(out.output.begin(), out.output.end(), '\n'), 1) << out.output;
  EXPECT_NE(out.output.find("not a crimegraph results file"), std::string::npos) << out.output;
  const auto missing = fixture::run_command(kReport + " " + dir.file("missing.h5"));
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
}

TEST(Report, SchemaDocumentNamesEveryColumnAndAttribute) {
  std::ifstream in(kSource + "/docs/results-format.md");
  std::stringstream doc;
  doc << in.rdbuf();
  const auto text = doc.str();
  for (const auto& c : kTrialColumns) EXPECT_NE(text.find(std::string("`") + c.name + "`"), std::string::npos) << c.name;
  for (const auto& c : kCurveColumns) EXPECT_NE(text.find(std::string("`") + c.name + "`"), std::string::npos) << c.name;
  for (const auto& a : kResultsAttributes) EXPECT_NE(text.find(std::string("`") + a.name + "`"), std::string::npos) << a.name;
}

TEST(Report, CompareShowsTwoSearchesSideBySide) {
  fixture::TempDir dir;
  const auto a = null_search(dir, "a.h5");
  const auto b = write_complete(dir);
  const auto out = fixture::run_command(kReport + " --compare " + a + " " + b);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find("objective (differs)"), std::string::npos) << out.output;  // null against gldnet
  EXPECT_NE(out.output.find("23 of "), std::string::npos) << out.output;  // the null search's 23 trials
  EXPECT_NE(out.output.find("4 of 4"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("87.5%"), std::string::npos) << "the written file's utilisation\n" << out.output;
  EXPECT_NE(out.output.find("0.6100"), std::string::npos) << "the second file's final test hit rate\n" << out.output;
  const auto one = fixture::run_command(kReport + " --compare " + a);
  EXPECT_EQ(one.exit_code, 1) << one.output;
}
