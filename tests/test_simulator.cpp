#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "crimegraph/search/results_reader.hpp"
#include "crimegraph/search/simulator.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

namespace {

SearchSettings settings_for(const fixture::TempDir& dir, const std::string& name) {
  SearchSettings s;
  s.space = SearchSpace::original_study();
  s.hyperband.max_epochs = 8;
  s.hyperband.factor = 2;
  s.asha.max_epochs = 8;
  s.asha.factor = 2;
  s.final_epochs = 0;
  s.results_path = dir.file(name + ".h5");
  s.metadata.name = name;
  s.metadata.objective = "simulated";
  return s;
}

SimulationOptions uniform(int workers) {
  SimulationOptions o;
  o.workers = workers;
  o.epoch_seconds = 1.0;
  o.cost_spread = 0.0;
  o.noise = 0.0;
  o.straggler_rate = 0.0;
  return o;
}

struct Row {
  std::int64_t id, parent, config;
  double score, start, end;
  bool operator==(const Row& o) const {
    return id == o.id && parent == o.parent && config == o.config && score == o.score && start == o.start && end == o.end;
  }
  bool operator<(const Row& o) const { return id < o.id; }
};

std::vector<Row> table(const std::string& path, bool times = true) {
  const ResultsReader r(path);
  const auto& t = r.trials();
  std::vector<Row> rows;
  for (std::size_t i = 0; i < t.rows(); ++i) {
    rows.push_back({static_cast<std::int64_t>(t.column("trial_id").number(i)),
                    static_cast<std::int64_t>(t.column("parent_id").number(i)),
                    static_cast<std::int64_t>(t.column("config_id").number(i)), t.column("score").number(i),
                    times ? t.column("start_seconds").number(i) : 0.0, times ? t.column("end_seconds").number(i) : 0.0});
  }
  return rows;
}

}  // namespace

TEST(Simulator, DeterministicForASeed) {
  fixture::TempDir dir;
  auto s = settings_for(dir, "a");
  s.algorithm = Algorithm::Asha;
  s.asha.max_trials = 300;
  SimulationOptions o;
  o.workers = 16;
  simulate_search(s, o);
  s.results_path = dir.file("b.h5");
  simulate_search(s, o);
  const auto a = table(dir.file("a.h5")), b = table(dir.file("b.h5"));
  ASSERT_GT(a.size(), 300u);
  EXPECT_EQ(a, b);
  o.seed = 2;
  s.results_path = dir.file("c.h5");
  simulate_search(s, o);
  EXPECT_NE(a, table(dir.file("c.h5")));
}

// With every trial as long as its epochs say, ASHA keeps every worker busy until its budget is
// spent: only the last trials' tail is idle.
TEST(Simulator, AshaKeepsUniformWorkersBusy) {
  fixture::TempDir dir;
  auto s = settings_for(dir, "asha");
  s.algorithm = Algorithm::Asha;
  s.time_limit_seconds = 2000;
  const auto r = simulate_search(s, uniform(64));
  EXPECT_TRUE(r.search.time_limit_reached);
  EXPECT_GT(r.search.utilisation, 0.98) << r.search.utilisation;
  for (const auto& row : table(s.results_path)) EXPECT_LE(row.start, 2000.0);  // the time budget
}

// Hyperband's rounds wait for their slowest trial: stragglers leave workers idle, where ASHA's
// workers take other work.
TEST(Simulator, HyperbandIdlesBehindStragglersAndAshaDoesNot) {
  fixture::TempDir dir;
  auto s = settings_for(dir, "hb");
  s.hyperband.iterations = 20;  // 20 x 38 trials
  auto even = uniform(64);
  const auto smooth = simulate_search(s, even);
  auto straggling = even;
  straggling.straggler_rate = 0.1;
  straggling.straggler_factor = 4.0;
  s.results_path = dir.file("hb-stragglers.h5");
  const auto hyperband = simulate_search(s, straggling);
  s.results_path = dir.file("asha-stragglers.h5");
  s.algorithm = Algorithm::Asha;
  s.time_limit_seconds = hyperband.makespan_seconds;
  const auto asha = simulate_search(s, straggling);
  EXPECT_LT(hyperband.search.utilisation, smooth.search.utilisation - 0.05)
      << hyperband.search.utilisation << " against " << smooth.search.utilisation;
  EXPECT_GT(asha.search.utilisation, hyperband.search.utilisation + 0.2)
      << asha.search.utilisation << " against " << hyperband.search.utilisation;
}

// One worker fixes the order results arrive in, so a stopped and resumed ASHA search must make
// exactly the decisions the uninterrupted one made.
TEST(Simulator, AResumedAshaSearchEndsWithTheUninterruptedTable) {
  fixture::TempDir dir;
  auto s = settings_for(dir, "whole");
  s.algorithm = Algorithm::Asha;
  s.asha.max_trials = 40;
  const auto o = uniform(1);
  simulate_search(s, o);
  s.results_path = dir.file("stopped.h5");
  s.stop_after_trials = 25;
  ASSERT_EQ(simulate_search(s, o).search.stop, SearchSummary::Stop::AfterTrials);
  s.stop_after_trials = 0;
  s.resume = true;
  const auto resumed = simulate_search(s, o);
  EXPECT_EQ(resumed.search.resumed, 25);
  auto whole = table(dir.file("whole.h5"), false), again = table(dir.file("stopped.h5"), false);
  std::sort(whole.begin(), whole.end());
  std::sort(again.begin(), again.end());
  EXPECT_EQ(whole, again);
}

// With many workers the resumed run restarts the trials the stop interrupted: every decision
// recorded before the stop is kept, none is made twice and none is lost.
TEST(Simulator, AResumedAshaSearchKeepsEveryRecordedDecision) {
  fixture::TempDir dir;
  auto s = settings_for(dir, "stopped");
  s.algorithm = Algorithm::Asha;
  s.asha.max_trials = 200;
  SimulationOptions o;
  o.workers = 12;
  s.stop_after_trials = 60;
  simulate_search(s, o);
  const auto before = table(s.results_path + ".partial", false);
  s.stop_after_trials = 0;
  s.resume = true;
  simulate_search(s, o);
  const auto after = table(s.results_path, false);
  ASSERT_EQ(before.size(), 60u);
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], before[i]) << "row " << i;
  std::set<std::int64_t> ids;
  for (const auto& r : after) EXPECT_TRUE(ids.insert(r.id).second) << "trial " << r.id << " twice";
  EXPECT_EQ(*ids.rbegin(), static_cast<std::int64_t>(ids.size()) - 1) << "a trial handed out was lost";
  std::set<std::int64_t> configs;
  for (const auto& r : after) configs.insert(r.config);
  EXPECT_EQ(configs.size(), 200u);
}

// A time budget is the search's: a resumed run gets what the runs before it left.
TEST(Simulator, TheTimeBudgetSpansAResumedSearchsRuns) {
  fixture::TempDir dir;
  auto s = settings_for(dir, "timed");
  s.algorithm = Algorithm::Asha;
  s.time_limit_seconds = 300;
  s.stop_after_trials = 200;
  const auto o = uniform(8);
  ASSERT_EQ(simulate_search(s, o).search.stop, SearchSummary::Stop::AfterTrials);
  s.stop_after_trials = 0;
  s.resume = true;
  EXPECT_TRUE(simulate_search(s, o).search.time_limit_reached);
  const ResultsReader r(s.results_path);
  const auto& t = r.trials();
  double first_run = 0.0;
  for (std::size_t i = 0; i < t.rows(); ++i)
    if (t.column("run").number(i) == 0) first_run = std::max(first_run, t.column("end_seconds").number(i));
  ASSERT_GT(first_run, 0.0);
  for (std::size_t i = 0; i < t.rows(); ++i) {
    if (t.column("run").number(i) == 1) EXPECT_LE(first_run + t.column("start_seconds").number(i), 300.0) << "row " << i;
  }
}

// The models fitted to a results file give back what it recorded.
TEST(Simulator, ModelsFittedToAResultsFile) {
  fixture::TempDir dir;
  auto s = settings_for(dir, "source");
  s.algorithm = Algorithm::Asha;
  s.asha.max_trials = 400;
  SimulationOptions synthetic;
  synthetic.noise = 0.0;
  synthetic.straggler_rate = 0.0;
  synthetic.workers = 8;
  simulate_search(s, synthetic);
  const TrialModel truth(synthetic, s.space);
  auto fitted_options = synthetic;
  fitted_options.fit_from = s.results_path;
  const TrialModel fitted(fitted_options, s.space);
  const ResultsReader source(s.results_path);
  const auto& t = source.trials();
  for (std::size_t i = 0; i < 20; ++i) {
    Configuration c;
    for (const auto& name : source.hyperparameters()) c[name] = t.column(name).number(i);
    EXPECT_NEAR(fitted.epoch_seconds(c) / truth.epoch_seconds(c), 1.0, 0.02);
    const auto epoch = static_cast<std::int32_t>(t.column("end_epoch").number(i));
    EXPECT_DOUBLE_EQ(fitted.curve(c, epoch), t.column("val_hit_rate_last").number(i));  // its own curve
  }
}
