// End-to-end searches through real `mpirun` (CMake's MPIEXEC_EXECUTABLE), checking the
// results file.
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/io/hdf5.hpp"
#include "fixtures.hpp"
#include "process.hpp"

using namespace crimegraph;
using fixture::run_command;

namespace {

const std::string kSearch = CRIMEGRAPH_SEARCH_EXE;
const std::string kSourceDir = CRIMEGRAPH_SOURCE_DIR;

std::string mpirun(int ranks) {
  return std::string("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader,tcp ") +
         MPIEXEC_EXECUTABLE + " " + MPIEXEC_NUMPROC_FLAG + " " + std::to_string(ranks) + " --oversubscribe ";
}

// An error before the search reaches the user as one line from rank 0: no MPI_Abort report.
void expect_no_abort_noise(const std::string& output) {
  EXPECT_EQ(output.find("MPI_ABORT"), std::string::npos) << output;
}

// A tiny city and a tiny search: 2 brackets, 6 trials, 1-3 epochs each.
class MpiSearch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fixture::TempDir();
    write_dataset(fixture::small_city(60, 200, 3), dir_->file("city.h5"));
    std::ofstream(dir_->file("job.ini")) << "name = tiny\n"
                                            "dataset = " << dir_->file("city.h5") << "\n"
                                            "space = " << kSourceDir << "/configs/space-default.ini\n"
                                            "max-epochs = 3\nfactor = 3\nfinal-epochs = 2\nseed = 5\n"
                                            "progress-seconds = 1\n"
                                            // Every worker trains, however few cores this machine has.
                                            "workers-per-node = all\n";
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fixture::ProcessResult search(int ranks, const std::string& out, const std::string& extra = "") {
    return run_command(mpirun(ranks) + kSearch + " --job " + dir_->file("job.ini") + " --out " + dir_->file(out) + " " +
                       extra);
  }
  static fixture::TempDir* dir_;
};
fixture::TempDir* MpiSearch::dir_ = nullptr;

struct Row {
  std::int64_t parent;
  double score, loss_rho, ldn_layers;
  std::string status;
};

std::map<std::int64_t, Row> trials_table(const std::string& path) {
  auto f = h5::File::open_read(path);
  const auto ids = f.read<std::int64_t>("trials/trial_id");
  const auto parents = f.read<std::int64_t>("trials/parent_id");
  const auto scores = f.read<double>("trials/score");
  const auto rho = f.read<double>("trials/loss_rho");
  const auto layers = f.read<double>("trials/num_ldn_layers");
  const auto status = f.read_strings("trials/status");
  std::map<std::int64_t, Row> rows;
  for (std::size_t i = 0; i < ids.size(); ++i) rows[ids[i]] = {parents[i], scores[i], rho[i], layers[i], status[i]};
  return rows;
}

// Every trial of `a` is in `b`, with the same parent, configuration, score and status.
void expect_same_trials(const std::map<std::int64_t, Row>& a, const std::map<std::int64_t, Row>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [id, row] : a) {
    ASSERT_TRUE(b.count(id)) << id;
    const auto& other = b.at(id);
    EXPECT_EQ(row.parent, other.parent) << id;
    EXPECT_EQ(row.loss_rho, other.loss_rho) << id;
    EXPECT_EQ(row.ldn_layers, other.ldn_layers) << id;
    EXPECT_EQ(row.score, other.score) << "trial " << id << " scored differently";
    EXPECT_EQ(row.status, other.status) << id;
  }
}

void check_complete(const std::string& path, int workers) {
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  auto f = h5::File::open_read(path);
  EXPECT_EQ(f.string_attribute("", "status"), "complete");
  EXPECT_EQ(f.int_attribute("", "planned_trials"), 6);
  EXPECT_EQ(f.int_attribute("", "workers"), workers);
  EXPECT_EQ(f.read<std::int64_t>("trials/trial_id").size(), 6u);
  for (const auto& s : f.read_strings("trials/status")) EXPECT_EQ(s, "ok");
  // 3 trials x 1 epoch + 1 x 2 more + 2 x 3 = 11 epochs of curves.
  EXPECT_EQ(f.read<std::int64_t>("curves/trial_id").size(), 11u);
  EXPECT_TRUE(f.exists("best/checkpoint"));
  // Too few test days here to expect a good score, only a valid one.
  const double test = f.double_attribute("final", "test_hit_rate");
  EXPECT_GE(test, 0.0);
  EXPECT_LE(test, 1.0);
  EXPECT_GT(f.double_attribute("final", "naive_test_hit_rate"), 0.0);
  EXPECT_TRUE(f.has_attribute("final", "oracle_test_hit_rate"));
  // Every hit rate with its interval, and the gain over the better baseline on the same days.
  for (const std::string name : {"test_hit_rate", "naive_test_hit_rate", "historical_test_hit_rate"}) {
    const double v = f.double_attribute("final", name);
    EXPECT_LE(f.double_attribute("final", name + "_low"), v) << name;
    EXPECT_GE(f.double_attribute("final", name + "_high"), v) << name;
  }
  const double naive = f.double_attribute("final", "naive_test_hit_rate");
  const double historical = f.double_attribute("final", "historical_test_hit_rate");
  EXPECT_EQ(f.string_attribute("final", "best_baseline"), naive >= historical ? "naive" : "historical");
  const double gain = f.double_attribute("final", "gain");
  EXPECT_DOUBLE_EQ(gain, test - std::max(naive, historical));
  EXPECT_LE(f.double_attribute("final", "gain_low"), gain);
  EXPECT_GE(f.double_attribute("final", "gain_high"), gain);
  const auto low = f.read<double>("curves/val_hit_rate_low"), high = f.read<double>("curves/val_hit_rate_high");
  const auto rate = f.read<double>("curves/val_hit_rate");
  ASSERT_EQ(low.size(), rate.size());
  for (std::size_t i = 0; i < rate.size(); ++i) {
    EXPECT_LE(low[i], rate[i]) << "epoch row " << i;
    EXPECT_GE(high[i], rate[i]) << "epoch row " << i;
  }
  const auto workers_seen = f.read<std::int32_t>("trials/worker");
  for (auto w : workers_seen) {
    EXPECT_GE(w, 1);
    EXPECT_LE(w, workers);
  }
}

}  // namespace

TEST_F(MpiSearch, OneWorker) {
  const auto r = search(2, "one.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_complete(dir_->file("one.h5"), 1);
  EXPECT_NE(r.output.find("[rank 0]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[rank 1]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("progress: 6/6 trials done"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("naive"), std::string::npos) << r.output;
}

TEST_F(MpiSearch, TwoAndFourWorkers) {
  auto r = search(3, "two.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_complete(dir_->file("two.h5"), 2);
  r = search(5, "four.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_complete(dir_->file("four.h5"), 4);
}

TEST_F(MpiSearch, SameTrialsTableWhateverTheNumberOfWorkers) {
  auto r = search(2, "w1.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The three workers smooth every window from raw days instead of reading the table of
  // smoothed windows the one worker keeps: the scores must not tell them apart either.
  r = search(4, "w3.h5", "--window-cache-mb 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto a = trials_table(dir_->file("w1.h5")), b = trials_table(dir_->file("w3.h5"));
  expect_same_trials(a, b);
  // A different seed gives different configurations.
  r = search(2, "seed9.h5", "--seed 9 --final-epochs 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto c = trials_table(dir_->file("seed9.h5"));
  bool differs = false;
  for (const auto& [id, row] : a) {
    // Promoted trials' ids depend on which slot won; compare the trials both tables have.
    if (c.count(id)) differs |= c.at(id).loss_rho != row.loss_rho || c.at(id).ldn_layers != row.ldn_layers;
  }
  EXPECT_TRUE(differs);
}

// Four ranks as two emulated nodes of two (coordinator and one worker, then two workers): each
// node builds its own shared copy, and the trials are those of one worker on one node.
TEST_F(MpiSearch, TwoEmulatedNodesGiveTheSingleNodeTable) {
  auto r = search(2, "node1.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command("CRIMEGRAPH_RANKS_PER_NODE=2 " + mpirun(4) + kSearch + " --job " + dir_->file("job.ini") + " --out " +
                  dir_->file("nodes2.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("node 0 of 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("node 1 of 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 worker(s) share"), std::string::npos) << r.output;
  expect_same_trials(trials_table(dir_->file("node1.h5")), trials_table(dir_->file("nodes2.h5")));
}

// Neither emulated node sees the file: rank 0 sends its copy, and the search is the same.
TEST_F(MpiSearch, NodesWithoutTheFileGetRankZerosCopy) {
  auto r = search(2, "own-file.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command("CRIMEGRAPH_RANKS_PER_NODE=2 CRIMEGRAPH_TEST_NODE_DATASETS=, " + mpirun(4) + kSearch + " --job " +
                  dir_->file("job.ini") + " --out " + dir_->file("sent-file.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sent the dataset file"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("to 2 node(s)"), std::string::npos) << r.output;
  expect_same_trials(trials_table(dir_->file("own-file.h5")), trials_table(dir_->file("sent-file.h5")));
  // Told never to send it, the same job stops before any trial, naming the node.
  r = run_command("CRIMEGRAPH_RANKS_PER_NODE=2 CRIMEGRAPH_TEST_NODE_DATASETS=, " + mpirun(4) + kSearch + " --job " +
                  dir_->file("job.ini") + " --out " + dir_->file("never.h5") + " --dataset-broadcast never");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("node 0 (") , std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cannot read the dataset file"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_->file("never.h5.partial")));
}

TEST_F(MpiSearch, ANodeWithADifferentFileIsRefused) {
  write_dataset(fixture::small_city(60, 200, 4), dir_->file("other-city.h5"));
  const auto r = run_command("CRIMEGRAPH_RANKS_PER_NODE=2 CRIMEGRAPH_TEST_NODE_DATASETS=," + dir_->file("other-city.h5") +
                             " " + mpirun(4) + kSearch + " --job " + dir_->file("job.ini") + " --out " +
                             dir_->file("differs.h5"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("node 1 ("), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("has a different dataset file"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_->file("differs.h5.partial")));
  EXPECT_FALSE(std::filesystem::exists(dir_->file("differs.h5")));
  expect_no_abort_noise(r.output);
}

TEST_F(MpiSearch, SingleRankTrainsInProcess) {
  const auto r = search(1, "single.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto f = h5::File::open_read(dir_->file("single.h5"));
  EXPECT_EQ(f.read<std::int64_t>("trials/trial_id").size(), 6u);
  EXPECT_EQ(trials_table(dir_->file("single.h5")).size(), 6u);
}

TEST_F(MpiSearch, FailingTrialsAreRecordedAndTheSearchGoesOn) {
  // Validation has 30 days: trials given a 40-day lookback fail, those with 10 days train.
  std::ofstream(dir_->file("lookback-space.ini")) << "[space]\nlookback = int 10 40 step=30 default=10\n"
                                                     "loss_rho = float 0.01 0.03 step=0.01 default=0.02\n";
  const auto r = search(3, "failing.h5", "--space " + dir_->file("lookback-space.ini"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto f = h5::File::open_read(dir_->file("failing.h5"));
  const auto status = f.read_strings("trials/status");
  const auto messages = f.read_strings("trials/message");
  const auto ids = f.read<std::int64_t>("trials/trial_id");
  const auto lookback = f.read<double>("trials/lookback");
  ASSERT_EQ(status.size(), 6u);
  std::size_t failed = 0;
  for (std::size_t i = 0; i < status.size(); ++i) {
    if (lookback[i] == 40) {
      ++failed;
      EXPECT_EQ(status[i], "failed") << ids[i];
      EXPECT_NE(messages[i].find("lookback 40"), std::string::npos) << messages[i];
      // Each failure is logged once.
      const auto line = "trial " + std::to_string(ids[i]) + " failed";
      const auto first = r.output.find(line);
      EXPECT_NE(first, std::string::npos) << r.output;
      EXPECT_EQ(r.output.find(line, first + 1), std::string::npos) << r.output;
    } else {
      EXPECT_EQ(status[i], "ok") << ids[i];
    }
  }
  ASSERT_GT(failed, 0u) << "no trial drew the 40-day lookback";
  ASSERT_LT(failed, 6u) << "every trial drew the 40-day lookback";
  EXPECT_NE(r.output.find("6 trials (" + std::to_string(failed) + " failed)"), std::string::npos) << r.output;
  EXPECT_TRUE(f.exists("final"));
}

// Feature hyperparameters: trials recompute their inputs with their own smoothing factor from
// the daily counts the node shares, and read windows of their own lookback.
TEST_F(MpiSearch, TrialsSearchTheInputSmoothingAndLookback) {
  std::ofstream(dir_->file("feature-space.ini")) << "[space]\nsmoothing = choice 0.2,0.8\nlookback = choice 7,14\n";
  const auto r = search(3, "features.h5", "--space " + dir_->file("feature-space.ini"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("daily counts"), std::string::npos) << "the node should say it keeps them: " << r.output;
  auto f = h5::File::open_read(dir_->file("features.h5"));
  const auto status = f.read_strings("trials/status");
  const auto smoothing = f.read<double>("trials/smoothing");
  const auto lookback = f.read<double>("trials/lookback");
  ASSERT_EQ(status.size(), 6u);
  std::set<double> factors;
  for (std::size_t i = 0; i < status.size(); ++i) {
    EXPECT_EQ(status[i], "ok") << i;
    EXPECT_TRUE(smoothing[i] == 0.2 || smoothing[i] == 0.8) << smoothing[i];
    EXPECT_TRUE(lookback[i] == 7 || lookback[i] == 14) << lookback[i];
    factors.insert(smoothing[i]);
  }
  EXPECT_EQ(factors.size(), 2u) << "both factors should be drawn in 6 trials (seed 5)";
  EXPECT_TRUE(f.exists("final"));
}

TEST_F(MpiSearch, BadInputStopsBeforeTheSearch) {
  std::ofstream(dir_->file("bad-space.ini")) << "[space]\nnum_ldn_layers = int 5 2\n";
  auto r = search(3, "bad.h5", "--space " + dir_->file("bad-space.ini"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("min 5 > max 2"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_->file("bad.h5")));
  EXPECT_FALSE(std::filesystem::exists(dir_->file("bad.h5.partial")));
  expect_no_abort_noise(r.output);
  r = search(3, "bad.h5", "--dataset /nonexistent/city.h5");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent/city.h5"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_->file("bad.h5")));
  expect_no_abort_noise(r.output);
}

// Ranks that refuse what rank 0 accepted (a file that differs between nodes): rank 0 names
// the rank and its reason, and every rank ends. The workers are given their own arguments.
TEST_F(MpiSearch, AJobOnlyTheWorkersRefuseIsReportedByRankZero) {
  std::ofstream(dir_->file("worker-space.ini")) << "[space]\nnum_ldn_layers = int 5 2\n";
  const std::string common = " --job " + dir_->file("job.ini") + " --out " + dir_->file("workers-refuse.h5");
  const auto r = run_command(mpirun(1) + kSearch + common + " : " + MPIEXEC_NUMPROC_FLAG + " 2 " + kSearch + common +
                             " --space " + dir_->file("worker-space.ini"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("crimegraph-search: error: rank "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("min 5 > max 2"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_->file("workers-refuse.h5.partial")));
  expect_no_abort_noise(r.output);
}

TEST_F(MpiSearch, ResultsLoadWithTheReadmePythonSnippet) {
  auto r = search(2, "pandas.h5", "--final-epochs 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The snippet as the README shows it, with the file and folder names substituted, run from
  // the repository (it imports python/crimegraph_results.py).
  std::ifstream readme(kSourceDir + "/README.md");
  std::stringstream text;
  text << readme.rdbuf();
  const auto s = text.str();
  const auto begin = s.find("```python\nimport sys");
  ASSERT_NE(begin, std::string::npos) << "README has no Python snippet";
  auto snippet = s.substr(begin + 10, s.find("```", begin + 10) - begin - 10);
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"results/demo.h5", dir_->file("pandas.h5")},
                                 {"results/demo-plots", dir_->file("snippet-plots")}}) {
    const auto at = snippet.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    snippet.replace(at, from.size(), to);
  }
  std::ofstream(dir_->file("snippet.py")) << snippet << "\nassert len(r.trials) == 6, len(r.trials)\n"
                                          << "assert set(r.trials.status) == {'ok'}\n"
                                          << "assert 'num_ldn_layers' in r.trials.columns\nprint('rows', len(r.trials))\n";
  const std::string python = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  r = run_command("cd " + kSourceDir + " && " + python + " " + dir_->file("snippet.py"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rows 6"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir_->file("snippet-plots/curves.png")));
}

std::uint64_t rows_in(const std::string& path) { return h5::File::open_read(path).shape("trials/trial_id")[0]; }

TEST_F(MpiSearch, ResumesAStoppedSearchToTheSameResults) {
  auto r = search(3, "whole.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = search(3, "stopped.h5", "--stop-after-trials 3");
  EXPECT_NE(r.exit_code, 0) << "a stopped search must not look finished";
  EXPECT_NE(r.output.find("stopped after 3 of 6 trials"), std::string::npos) << r.output;
  const auto out = dir_->file("stopped.h5");
  EXPECT_FALSE(std::filesystem::exists(out));
  ASSERT_TRUE(std::filesystem::exists(out + ".partial"));
  ASSERT_TRUE(std::filesystem::exists(out + ".checkpoints"));
  EXPECT_EQ(rows_in(out + ".partial"), 3u);

  // Starting the search again without --resume would lose the finished trials: refused.
  r = search(3, "stopped.h5");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--resume"), std::string::npos) << r.output;
  // So is resuming it as another search; neither touches the file.
  r = search(3, "stopped.h5", "--resume --seed 6");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("records another search"), std::string::npos) << r.output;
  EXPECT_EQ(rows_in(out + ".partial"), 3u);

  // Promoted trials continue from the kept checkpoints: every score as in the whole run.
  r = search(3, "stopped.h5", "--resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming: 3 of 6 trials were finished"), std::string::npos) << r.output;
  check_complete(out, 2);
  EXPECT_FALSE(std::filesystem::exists(out + ".checkpoints"));
  expect_same_trials(trials_table(dir_->file("whole.h5")), trials_table(out));
  auto whole = h5::File::open_read(dir_->file("whole.h5")), resumed = h5::File::open_read(out);
  EXPECT_EQ(whole.int_attribute("best", "trial_id"), resumed.int_attribute("best", "trial_id"));
  EXPECT_EQ(whole.double_attribute("final", "test_hit_rate"), resumed.double_attribute("final", "test_hit_rate"));
  EXPECT_EQ(resumed.int_attribute("", "resumes"), 1);

  // Resuming a finished search leaves it alone.
  r = search(3, "stopped.h5", "--resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nothing to resume"), std::string::npos) << r.output;
  EXPECT_EQ(h5::File::open_read(out).int_attribute("", "resumes"), 1);
}

// The null objective's checkpoints name configuration and epoch, so a promotion continued from
// a wrong or missing one fails; stopped and resumed at many points, twice over and on other
// numbers of workers, the 460-trial search must end with the uninterrupted one's table.
TEST(SearchResume, StoppedAnywhereResumesToTheSameTable) {
  fixture::TempDir dir;
  // Each step of a stopped search may run on another number of workers.
  auto base_at = [&](int ranks) {
    return mpirun(ranks) + kSearch + " --job " + kSourceDir +
           "/jobs/seed-replication.ini --objective null --final-epochs 0 --log-level warn --out ";
  };
  const std::string base = base_at(3);
  auto r = run_command(base + dir.file("whole.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto whole = trials_table(dir.file("whole.h5"));
  ASSERT_EQ(whole.size(), 460u);
  for (const auto& [id, row] : whole) ASSERT_EQ(row.status, "ok") << "trial " << id;
  for (int first : {1, 37, 200, 459}) {
    const auto out = dir.file("stopped-" + std::to_string(first) + ".h5");
    r = run_command(base + out + " --stop-after-trials " + std::to_string(first));
    ASSERT_NE(r.exit_code, 0) << r.output;
    r = run_command(base_at(5) + out + " --resume --stop-after-trials 50");
    if (first + 50 < 460) ASSERT_NE(r.exit_code, 0) << r.output;
    if (!std::filesystem::exists(out)) {
      r = run_command(base_at(2) + out + " --resume");
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
    SCOPED_TRACE("stopped after " + std::to_string(first));
    expect_same_trials(whole, trials_table(out));
    EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
  }
}

// ASHA's decisions depend on the order results arrive in, which real workers do not fix: a
// stopped ASHA search, resumed on another number of ranks, keeps every decision recorded before
// the stop (each row as it was, in the same place), makes none twice and loses none.
TEST(SearchResume, AStoppedAshaSearchContinuesFromItsRecordedDecisions) {
  fixture::TempDir dir;
  const auto out = dir.file("asha.h5");
  auto base_at = [&](int ranks) {
    return mpirun(ranks) + kSearch + " --job " + kSourceDir +
           "/jobs/seed-replication.ini --algorithm asha --max-trials 150 --objective null --final-epochs 0 "
           "--log-level warn --out " + out;
  };
  auto r = run_command(base_at(4) + " --stop-after-trials 70");
  ASSERT_EQ(r.exit_code, 75) << r.output;
  std::vector<std::int64_t> ids_before, parents_before;
  {
    auto f = h5::File::open_read(out + ".partial");
    ids_before = f.read<std::int64_t>("trials/trial_id");
    parents_before = f.read<std::int64_t>("trials/parent_id");
  }
  ASSERT_EQ(ids_before.size(), 70u);
  r = run_command(base_at(3) + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resumed: 70 trials were finished before"), std::string::npos) << r.output;
  auto f = h5::File::open_read(out);
  const auto ids = f.read<std::int64_t>("trials/trial_id");
  const auto parents = f.read<std::int64_t>("trials/parent_id");
  const auto runs = f.read<std::int32_t>("trials/run");
  const auto configs = f.read<std::int64_t>("trials/config_id");
  EXPECT_EQ(f.string_attribute("", "variant"), "asha");
  for (std::size_t i = 0; i < ids_before.size(); ++i) {
    EXPECT_EQ(ids[i], ids_before[i]) << "row " << i;
    EXPECT_EQ(parents[i], parents_before[i]) << "row " << i;
    EXPECT_EQ(runs[i], 0) << "row " << i;
  }
  for (std::size_t i = ids_before.size(); i < ids.size(); ++i) EXPECT_EQ(runs[i], 1) << "row " << i;
  std::set<std::int64_t> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size()) << "a trial ran twice";
  EXPECT_EQ(*unique.rbegin(), static_cast<std::int64_t>(unique.size()) - 1) << "a trial handed out was lost";
  EXPECT_EQ(std::set<std::int64_t>(configs.begin(), configs.end()).size(), 150u);
  for (auto p : parents) {
    if (p >= 0) EXPECT_TRUE(unique.count(p)) << "parent " << p;
  }
}

TEST(SearchCli, DryRunPrintsThePlanWithoutMpi) {
  const auto r = run_command(kSearch + " --job " + kSourceDir + "/jobs/seed-replication.ini --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("total: 460 trials"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("        0       4     0      20       2"), std::string::npos) << r.output;
  const auto t = run_command(kSearch + " --job " + kSourceDir + "/jobs/thousands.ini --dry-run");
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("total: 2024 trials"), std::string::npos) << t.output;
  const auto p = run_command(kSearch + " --dry-run --variant paper --max-epochs 81 --factor 3 --space " + kSourceDir +
                             "/configs/space-default.ini");
  EXPECT_NE(p.output.find("        0       4     0      81       1"), std::string::npos) << p.output;
  const auto bad = run_command(kSearch + " --dry-run --variant bohb --space " + kSourceDir + "/configs/space-default.ini");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("unknown Hyperband variant 'bohb'"), std::string::npos) << bad.output;
}

// Ranks beyond the node's cores wait instead of training: an explicit cap, then the automatic
// one (one worker per core here, with --threads 1). The trials are the same either way.
TEST_F(MpiSearch, WorkersBeyondTheCoresWait) {
  auto r = search(4, "capped.h5", "--workers-per-node 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 of its 3 workers train"), std::string::npos) << r.output;
  check_complete(dir_->file("capped.h5"), 2);
  auto r3 = search(3, "uncapped.h5");
  ASSERT_EQ(r3.exit_code, 0) << r3.output;
  expect_same_trials(trials_table(dir_->file("capped.h5")), trials_table(dir_->file("uncapped.h5")));

  cpu_set_t mine;
  CPU_ZERO(&mine);
  ASSERT_EQ(sched_getaffinity(0, sizeof mine, &mine), 0);
  const int expected = std::min(3, CPU_COUNT(&mine));
  r = search(4, "auto.h5", "--workers-per-node auto");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_complete(dir_->file("auto.h5"), expected);

  r = search(3, "bad-cap.h5", "--workers-per-node 0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--workers-per-node must be auto, all or a positive number"), std::string::npos) << r.output;
  expect_no_abort_noise(r.output);
}

// Outputs are checked before the work: --out naming a folder, or under a folder that cannot be made.
TEST_F(MpiSearch, AnOutputThatCannotBeWrittenIsRefusedFirst) {
  for (const auto& out : {dir_->path().string(), dir_->file("job.ini") + "/results/x.h5"}) {
    const auto r = run_command(mpirun(2) + kSearch + " --job " + dir_->file("job.ini") + " --out " + out);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("trials planned"), std::string::npos) << "the search ran:\n" << r.output;
  }
}

// A lookback the dataset is too short for is refused before any trial (200 days: 30 validation days).
TEST_F(MpiSearch, ALookbackLongerThanASplitIsRefusedFirst) {
  const auto r = search(2, "long-lookback.h5", "--set lookback=40");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("too few for a lookback of 40 days"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("trials planned"), std::string::npos) << r.output;
  expect_no_abort_noise(r.output);  // rank 0 sent the waiting workers home
}

// A worker killed mid-search (as the out-of-memory killer would) ends the job; what had
// finished is kept, and --resume ends with the uninterrupted search's table.
TEST_F(MpiSearch, AWorkerThatDiesLeavesASearchThatResumes) {
  auto r = search(3, "undisturbed.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto whole = trials_table(dir_->file("undisturbed.h5"));
  const auto last = whole.rbegin()->first;  // a promoted trial: it continues from a checkpoint
  r = run_command("CRIMEGRAPH_TEST_KILL_AT_TRIAL=" + std::to_string(last) + " " + mpirun(3) + kSearch + " --job " +
                  dir_->file("job.ini") + " --out " + dir_->file("died.h5"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  const auto out = dir_->file("died.h5");
  EXPECT_FALSE(std::filesystem::exists(out)) << "a search whose worker died must not look finished";
  ASSERT_TRUE(std::filesystem::exists(out + ".partial")) << r.output;
  EXPECT_LT(rows_in(out + ".partial"), whole.size());
  r = search(3, "died.h5", "--resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_complete(out, 2);
  expect_same_trials(whole, trials_table(out));
}

// Each node says when the space's largest configuration, times its training workers, would not
// fit its memory; the search still runs.
TEST_F(MpiSearch, ASpaceTooLargeForANodesMemoryIsAWarning) {
  std::ofstream(dir_->file("wide-space.ini")) << "[space]\nnum_ldn_hidden_units = choice 4,256\nbatch_size = int 8 64\n";
  const auto args = "--space " + dir_->file("wide-space.ini") + " --final-epochs 0";
  auto r = run_command("CRIMEGRAPH_MEMORY_LIMIT=4M " + mpirun(3) + kSearch + " --job " + dir_->file("job.ini") +
                       " --out " + dir_->file("tight.h5") + " " + args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("the space's largest configuration (gated 2x8, diffusion 5x256, batch 64) needs about"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 worker(s) training at once need"), std::string::npos) << r.output;
  r = search(3, "roomy.h5", args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("may run out of memory"), std::string::npos) << r.output;
}

// The search's name becomes results/NAME.h5: a path out of results/ is refused.
TEST(SearchCli, ANameThatIsAPathOrAStrayArgumentIsRefused) {
  for (const char* name : {"../../x", "a/b", ".hidden", ""}) {
    const auto r = run_command(kSearch + " --dry-run --name '" + name + "' --space " + kSourceDir +
                               "/configs/space-default.ini");
    EXPECT_EQ(r.exit_code, 1) << name << "\n" << r.output;
    EXPECT_NE(r.output.find("--name"), std::string::npos) << name << "\n" << r.output;
  }
  const auto stray = run_command(kSearch + " --dry-run jobs/demo.ini --space " + kSourceDir + "/configs/space-default.ini");
  EXPECT_EQ(stray.exit_code, 1) << "a stray argument was ignored:\n" << stray.output;
  const auto ok = run_command(kSearch + " --dry-run --name seed-replication_2.b --space " + kSourceDir +
                              "/configs/space-default.ini");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

// --resume on a finished file of another search is refused; a new search does not replace a
// finished file unless --overwrite.
TEST_F(MpiSearch, AFinishedSearchIsNeitherResumedAsAnotherNorOverwritten) {
  auto r = search(2, "finished.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = search(2, "finished.h5", "--resume --seed 6");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("holds another, finished search (its seed differs"), std::string::npos) << r.output;
  r = search(2, "finished.h5", "--resume");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nothing to resume: the search is complete"), std::string::npos) << r.output;
  r = search(2, "finished.h5");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("holds a finished search"), std::string::npos) << r.output;
  r = search(2, "finished.h5", "--overwrite");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// --trial-timeout reaches the workers: here every trial is over its limit at once, each is
// recorded with the reason, and the search, having no result, ends with status 3.
TEST_F(MpiSearch, TrialsOverTheirTimeLimitFailWithTheReason) {
  const auto r = search(3, "timeout.h5", "--trial-timeout 0.000001");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("every trial failed or diverged"), std::string::npos) << r.output;
  auto f = h5::File::open_read(dir_->file("timeout.h5"));
  const auto parents = f.read<std::int64_t>("trials/parent_id");
  const auto messages = f.read_strings("trials/message");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    // A first-round trial ran out of time; a promotion of one has no state to continue from.
    const char* expected = parents[i] < 0 ? "stopped by the time limit" : "left no checkpoint";
    EXPECT_NE(messages[i].find(expected), std::string::npos) << messages[i];
  }
}
