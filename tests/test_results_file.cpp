// Resuming: what an unfinished search wrote comes back whole, a flush cut off by a crash is cut
// back to the last whole trial, another search's file is refused, and a search stopped on
// request (as by SIGTERM) resumes to the uninterrupted one's results.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>

#include "crimegraph/cluster/coordinator.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/hdf5.hpp"
#include "crimegraph/search/results_file.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

namespace {

SearchMetadata metadata() {
  SearchMetadata m;
  m.name = "resume-test";
  m.space_text = "space";
  m.plan_text = "plan";
  m.variant = "keras";
  m.ranking = "best-epoch";
  m.objective = "gldnet";
  m.dataset = "city.h5";
  m.hit_rate = "hit rate";
  m.seed = 3;
  m.planned_trials = 10;
  m.workers = 2;
  return m;
}

const SearchSpace& space() {
  static const auto s = SearchSpace::parse("[space]\nloss_rho = float 0.01 0.03 step=0.01 default=0.02\n");
  return s;
}

TrialSpec trial(std::int64_t id) {
  TrialSpec s;
  s.id = id;
  s.parent_id = id > 1 ? id - 2 : -1;
  s.config_id = id % 3;
  s.start_epoch = static_cast<std::int32_t>(id);
  s.end_epoch = static_cast<std::int32_t>(id + 2);
  s.config = {{"loss_rho", 0.01 * static_cast<double>(id % 3 + 1)}};
  return s;
}

TrialOutcome outcome(std::int64_t id) {
  TrialOutcome o;
  o.id = id;
  o.worker = static_cast<std::int32_t>(id % 2 + 1);
  o.wall_seconds = 1.5 * static_cast<double>(id);
  for (std::int32_t e = 1; e <= 2; ++e) {
    EpochRecord r;
    r.epoch = static_cast<std::int32_t>(id) + e;
    r.train_loss = 0.1 / e + static_cast<double>(id);
    r.validation_loss = 0.2 / e;
    r.validation_hit_rate = 0.5 + 0.01 * static_cast<double>(id) + 0.001 * e;
    r.learning_rate = 0.03;
    r.train_seconds = 0.25;
    r.eval_seconds = 0.125;
    o.epochs.push_back(r);
  }
  o.checkpoint = "state of trial " + std::to_string(id) + std::string(100 + static_cast<std::size_t>(id), 'x');
  if (id == 2) {
    o.status = TrialStatus::Diverged;
    o.message = "loss went to NaN";
  }
  return o;
}

// A search that wrote trials 0..2 (with checkpoints) and then stopped without finishing.
void write_stopped_search(const std::string& path) {
  ResultsWriter w(path, metadata(), space());
  for (std::int64_t id = 0; id < 3; ++id) {
    const auto o = outcome(id);
    w.add_checkpoint(id, o.checkpoint);
    w.add_trial(trial(id), o, o.best_hit_rate());
  }
  w.flush();
}

}  // namespace

// A checkpoints file copied from another search would continue its trials from the wrong
// states: refused. A finished search's file is not replaced unless asked.
TEST(ResultsFile, AnotherSearchsCheckpointsAndAFinishedFileAreRefused) {
  fixture::TempDir dir;
  write_stopped_search(dir.file("a.h5"));
  write_stopped_search(dir.file("b.h5"));
  std::filesystem::copy_file(dir.file("b.h5.checkpoints"), dir.file("a.h5.checkpoints"),
                             std::filesystem::copy_options::overwrite_existing);
  try {
    ResultsWriter w(dir.file("a.h5"), metadata(), space(), ResultsOpen::Resume);
    FAIL() << "resumed with another search's checkpoints";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("another search's checkpoints"), std::string::npos) << e.what();
  }

  const auto done = dir.file("done.h5");
  {
    ResultsWriter w(done, metadata(), space());
    w.finish(1.0, 1.0);
  }
  EXPECT_THROW(ResultsWriter(done, metadata(), space()), ConfigError);
  EXPECT_TRUE(std::filesystem::exists(done));
  ResultsWriter replacing(done, metadata(), space(), ResultsOpen::Replace);
  replacing.finish(2.0, 1.0);
  EXPECT_EQ(h5::File::open_read(done).double_attribute("", "wall_seconds"), 2.0);
}

TEST(ResultsFile, ResumeReadsBackWhatTheStoppedSearchWrote) {
  fixture::TempDir dir;
  const auto path = dir.file("r.h5");
  write_stopped_search(path);
  ASSERT_TRUE(std::filesystem::exists(path + ".partial"));
  ASSERT_FALSE(std::filesystem::exists(path));

  ResultsWriter w(path, metadata(), space(), ResultsOpen::Resume);
  const auto& recorded = w.recorded();
  ASSERT_EQ(recorded.size(), 3u);
  for (std::int64_t id = 0; id < 3; ++id) {
    SCOPED_TRACE(id);
    const auto& r = recorded.at(id);
    const auto spec = trial(id);
    const auto o = outcome(id);
    EXPECT_EQ(r.parent_id, spec.parent_id);
    EXPECT_EQ(r.config_id, spec.config_id);
    EXPECT_EQ(r.start_epoch, spec.start_epoch);
    EXPECT_EQ(r.end_epoch, spec.end_epoch);
    EXPECT_EQ(r.outcome.status, o.status);
    EXPECT_EQ(r.outcome.message, o.message);
    EXPECT_EQ(r.outcome.worker, o.worker);
    EXPECT_EQ(r.outcome.wall_seconds, o.wall_seconds);
    EXPECT_EQ(w.checkpoint(id), o.checkpoint);
    ASSERT_EQ(r.outcome.epochs.size(), o.epochs.size());
    for (std::size_t e = 0; e < o.epochs.size(); ++e) {
      EXPECT_EQ(r.outcome.epochs[e].epoch, o.epochs[e].epoch);
      EXPECT_EQ(r.outcome.epochs[e].train_loss, o.epochs[e].train_loss);
      EXPECT_EQ(r.outcome.epochs[e].validation_loss, o.epochs[e].validation_loss);
      EXPECT_EQ(r.outcome.epochs[e].validation_hit_rate, o.epochs[e].validation_hit_rate);
      EXPECT_EQ(r.outcome.epochs[e].learning_rate, o.epochs[e].learning_rate);
      EXPECT_EQ(r.outcome.epochs[e].train_seconds, o.epochs[e].train_seconds);
      EXPECT_EQ(r.outcome.epochs[e].eval_seconds, o.epochs[e].eval_seconds);
    }
  }
  // The resumed search appends after them and finishes as any other.
  const auto o = outcome(3);
  w.add_trial(trial(3), o, o.best_hit_rate());
  w.add_checkpoint(3, o.checkpoint);
  w.finish(1.0, 0.5);
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  EXPECT_FALSE(std::filesystem::exists(path + ".checkpoints"));
  auto f = h5::File::open_read(path);
  EXPECT_EQ(f.read<std::int64_t>("trials/trial_id"), (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(f.read<std::int32_t>("curves/epoch").size(), 8u);
  EXPECT_EQ(f.int_attribute("", "resumes"), 1);
  EXPECT_EQ(f.string_attribute("", "status"), "complete");
}

TEST(ResultsFile, ResumeCutsAFlushCutOffByACrashBackToWholeTrials) {
  fixture::TempDir dir;
  const auto path = dir.file("r.h5");
  write_stopped_search(path);
  {
    // A fourth trial's flush stopped part way: some of its row, one of its epochs, and its
    // checkpoint's bytes without their size.
    auto f = h5::File::open_read_write(path + ".partial");
    f.append<std::int64_t>("trials/trial_id", 3);
    f.append<std::int32_t>("trials/iteration", 0);
    f.append<std::int64_t>("curves/trial_id", 3);
    f.append<std::int32_t>("curves/epoch", 4);
    auto c = h5::File::open_read_write(path + ".checkpoints");
    const std::vector<std::uint8_t> bytes(40, 7);
    c.append("bytes", bytes.data(), bytes.size());
    c.append<std::int64_t>("trial_id", 3);
  }
  {
    ResultsWriter w(path, metadata(), space(), ResultsOpen::Resume);
    EXPECT_EQ(w.recorded().size(), 3u);
    EXPECT_EQ(w.recorded().count(3), 0u);
    EXPECT_EQ(w.checkpoint(1), outcome(1).checkpoint);
    const auto o = outcome(3);
    w.add_trial(trial(3), o, o.best_hit_rate());
    w.add_checkpoint(3, o.checkpoint);
    w.flush();
  }
  {
    // Every column was cut back before the resumed search appended, so the rows line up.
    auto f = h5::File::open_read(path + ".partial");
    EXPECT_EQ(f.read<std::int64_t>("trials/trial_id"), (std::vector<std::int64_t>{0, 1, 2, 3}));
    EXPECT_EQ(f.read<std::int32_t>("trials/iteration").size(), 4u);
    EXPECT_EQ(f.read<std::int32_t>("curves/epoch"), (std::vector<std::int32_t>{1, 2, 2, 3, 3, 4, 4, 5}));
    EXPECT_EQ(f.read<std::int64_t>("curves/trial_id").size(), 8u);
  }
  ResultsWriter again(path, metadata(), space(), ResultsOpen::Resume);
  ASSERT_EQ(again.recorded().size(), 4u);
  EXPECT_EQ(again.checkpoint(3), outcome(3).checkpoint);
  EXPECT_EQ(again.recorded().at(3).outcome.epochs.back().epoch, 5);
}

TEST(ResultsFile, RefusesToLoseOrMixUpAnUnfinishedSearch) {
  fixture::TempDir dir;
  const auto path = dir.file("r.h5");
  write_stopped_search(path);
  // A new search would overwrite the finished trials.
  EXPECT_THROW(ResultsWriter(path, metadata(), space()), ConfigError);
  // Another search's file: a different seed, or a different plan.
  auto other = metadata();
  other.seed = 4;
  EXPECT_THROW(ResultsWriter(path, other, space(), ResultsOpen::Resume), ConfigError);
  other = metadata();
  other.plan_text = "another plan";
  EXPECT_THROW(ResultsWriter(path, other, space(), ResultsOpen::Resume), ConfigError);
  // Without the checkpoints, promotions could not continue.
  std::filesystem::rename(path + ".checkpoints", path + ".moved");
  EXPECT_THROW(ResultsWriter(path, metadata(), space(), ResultsOpen::Resume), DataError);
  std::filesystem::rename(path + ".moved", path + ".checkpoints");
  // None of that touched the file.
  ResultsWriter w(path, metadata(), space(), ResultsOpen::Resume);
  EXPECT_EQ(w.recorded().size(), 3u);
  EXPECT_THROW(ResultsWriter(dir.file("none.h5"), metadata(), space(), ResultsOpen::Resume), ConfigError);
}

namespace {

// The null objective, but asks the coordinator to stop while its `stop_at`-th trial runs, as a
// SIGTERM handler would.
class StoppingObjective : public Objective {
 public:
  StoppingObjective(std::atomic<bool>& stop, int stop_at) : stop_(stop), stop_at_(stop_at) {}
  TrialOutcome run(const TrialSpec& spec) override {
    if (++runs_ == stop_at_) stop_ = true;
    return inner_->run(spec);
  }
  FinalOutcome run_final(const TrialSpec& spec) override { return inner_->run_final(spec); }

 private:
  std::unique_ptr<Objective> inner_ = make_null_objective();
  std::atomic<bool>& stop_;
  int stop_at_, runs_ = 0;
};

// The null objective's trials, each epoch taking a second (as measured by a worker), and a
// drain request (the time-limit signal) raised by the `drain_at`-th trial.
class TimedObjective : public Objective {
 public:
  TimedObjective(std::atomic<bool>* drain = nullptr, int drain_at = 0) : drain_(drain), drain_at_(drain_at) {}
  TrialOutcome run(const TrialSpec& spec) override {
    if (drain_ && ++runs_ == drain_at_) *drain_ = true;
    auto o = inner_->run(spec);
    for (auto& e : o.epochs) e.train_seconds = 1.0;
    return o;
  }
  FinalOutcome run_final(const TrialSpec& spec) override { return inner_->run_final(spec); }

 private:
  std::unique_ptr<Objective> inner_ = make_null_objective();
  std::atomic<bool>* drain_;
  int drain_at_, runs_ = 0;
};

std::map<std::int64_t, double> scores(const std::string& path) {
  auto f = h5::File::open_read(path);
  const auto ids = f.read<std::int64_t>("trials/trial_id");
  const auto score = f.read<double>("trials/score");
  std::map<std::int64_t, double> out;
  for (std::size_t i = 0; i < ids.size(); ++i) out[ids[i]] = score[i];
  return out;
}

}  // namespace

// The time limit: a drained search (the warning signal) and one out of time before its
// deadline start no new trial, stop with none running, and resume to the uninterrupted table.
TEST(Coordinator, DrainAndDeadlineStopBetweenTrialsAndTheSearchResumes) {
  fixture::TempDir dir;
  SearchSettings settings;
  settings.hyperband.max_epochs = 25;
  settings.hyperband.factor = 2;
  settings.space = SearchSpace::original_study();
  settings.final_epochs = 3;
  settings.progress_seconds = 1000;
  settings.metadata = metadata();
  settings.metadata.objective = "null";
  settings.results_path = dir.file("whole.h5");
  TimedObjective timed;
  auto pool = make_in_process_pool(timed);
  const auto whole = run_search(settings, *pool);
  ASSERT_FALSE(whole.stopped());

  std::atomic<bool> drain{false};
  settings.results_path = dir.file("drained.h5");
  settings.drain_requested = &drain;
  TimedObjective draining(&drain, 5);
  auto draining_pool = make_in_process_pool(draining);
  const auto drained = run_search(settings, *draining_pool);
  EXPECT_EQ(drained.stop, SearchSummary::Stop::Drained);
  EXPECT_EQ(drained.completed, 5) << "the running trial finishes, no other starts";
  EXPECT_EQ(drained.workers.size(), 1u) << "the workers are shut down, not abandoned";
  EXPECT_EQ(scores(settings.results_path + ".partial").size(), 5u);

  // The deadline is now: the first trial starts (no epoch time is known yet), then none fits.
  settings.results_path = dir.file("deadline.h5");
  settings.drain_requested = nullptr;
  settings.deadline = std::chrono::system_clock::now();
  auto deadline_pool = make_in_process_pool(timed);
  const auto out_of_time = run_search(settings, *deadline_pool);
  EXPECT_EQ(out_of_time.stop, SearchSummary::Stop::Drained);
  EXPECT_EQ(out_of_time.completed, 1);

  settings.deadline.reset();
  settings.resume = true;
  for (const auto& name : {"drained.h5", "deadline.h5"}) {
    settings.results_path = dir.file(name);
    auto resumed_pool = make_in_process_pool(timed);
    const auto resumed = run_search(settings, *resumed_pool);
    EXPECT_FALSE(resumed.stopped()) << name;
    EXPECT_EQ(scores(settings.results_path), scores(dir.file("whole.h5"))) << name;
  }
}

TEST(Coordinator, StopRequestFlushesAndTheSearchResumes) {
  fixture::TempDir dir;
  SearchSettings settings;
  settings.hyperband.max_epochs = 25;
  settings.hyperband.factor = 2;
  settings.space = SearchSpace::original_study();
  settings.final_epochs = 3;
  settings.progress_seconds = 1000;
  settings.metadata = metadata();
  settings.metadata.objective = "null";

  settings.results_path = dir.file("whole.h5");
  auto null = make_null_objective();
  auto pool = make_in_process_pool(*null);
  const auto whole = run_search(settings, *pool);
  ASSERT_FALSE(whole.stopped());

  std::atomic<bool> stop{false};
  settings.results_path = dir.file("stopped.h5");
  settings.stop_requested = &stop;
  StoppingObjective stopping(stop, 7);
  auto stopping_pool = make_in_process_pool(stopping);
  const auto stopped = run_search(settings, *stopping_pool);
  EXPECT_TRUE(stopped.stopped());
  EXPECT_EQ(stopped.stop, SearchSummary::Stop::OnRequest);
  EXPECT_EQ(stopped.completed, 7);
  EXPECT_FALSE(std::filesystem::exists(settings.results_path));
  EXPECT_EQ(scores(settings.results_path + ".partial").size(), 7u);

  // As if the stop had come while /best was being rewritten: the resumed search writes it again.
  h5::File::open_read_write(settings.results_path + ".partial").remove("best");

  stop = false;
  settings.resume = true;
  auto resumed_pool = make_in_process_pool(*null);
  const auto resumed = run_search(settings, *resumed_pool);
  EXPECT_FALSE(resumed.stopped());
  EXPECT_EQ(resumed.resumed, 7);
  EXPECT_EQ(resumed.completed, whole.completed);
  EXPECT_EQ(resumed.best_trial, whole.best_trial);
  ASSERT_TRUE(resumed.final && whole.final);
  EXPECT_EQ(resumed.final->test_hit_rate, whole.final->test_hit_rate);
  EXPECT_EQ(scores(settings.results_path), scores(dir.file("whole.h5")));
  auto a = h5::File::open_read(dir.file("whole.h5")), b = h5::File::open_read(settings.results_path);
  EXPECT_EQ(b.int_attribute("best", "trial_id"), a.int_attribute("best", "trial_id"));
  EXPECT_EQ(b.read<std::uint8_t>("best/checkpoint"), a.read<std::uint8_t>("best/checkpoint"));

  // Stopped after its last trial with /best lost: no trial is left to rewrite it, the replay must.
  settings.results_path = dir.file("late.h5");
  settings.resume = false;
  settings.stop_requested = nullptr;
  settings.stop_after_trials = whole.completed;
  auto late_pool = make_in_process_pool(*null);
  ASSERT_EQ(run_search(settings, *late_pool).stop, SearchSummary::Stop::AfterTrials);
  h5::File::open_read_write(settings.results_path + ".partial").remove("best");
  settings.resume = true;
  settings.stop_after_trials = 0;
  auto late_resumed_pool = make_in_process_pool(*null);
  const auto late = run_search(settings, *late_resumed_pool);
  EXPECT_EQ(late.resumed, whole.completed);
  auto c = h5::File::open_read(settings.results_path);
  ASSERT_TRUE(c.exists("best"));
  EXPECT_EQ(c.int_attribute("best", "trial_id"), a.int_attribute("best", "trial_id"));
  EXPECT_EQ(c.read<std::uint8_t>("best/checkpoint"), a.read<std::uint8_t>("best/checkpoint"));
}

TEST(TrainingWorkers, OnePerThreadsOfTheNodesCoresUnlessAskedOtherwise) {
  EXPECT_EQ(training_workers("auto", 63, 2, 1), 2);   // mpirun -n 64 on 2 cores
  EXPECT_EQ(training_workers("auto", 64, 64, 2), 32);
  EXPECT_EQ(training_workers("auto", 2, 64, 1), 2);   // never more than the node has
  EXPECT_EQ(training_workers("auto", 8, 1, 4), 1);    // always at least one
  EXPECT_EQ(training_workers("all", 63, 2, 1), 63);
  EXPECT_EQ(training_workers("3", 63, 2, 1), 3);
  EXPECT_EQ(training_workers("5", 2, 2, 1), 2);
  for (const char* bad : {"0", "-1", "x", "2x", ""}) EXPECT_THROW(training_workers(bad, 4, 4, 1), ConfigError) << bad;
}

// A search with no result to give ends with status 3 and the cause.
TEST(Coordinator, ASearchWhoseEveryTrialFailedHasNoResult) {
  class Failing : public Objective {
   public:
    TrialOutcome run(const TrialSpec& spec) override {
      TrialOutcome o;
      o.id = spec.id;
      o.status = TrialStatus::Failed;
      o.message = "out of memory in epoch 1";
      return o;
    }
    FinalOutcome run_final(const TrialSpec&) override { return {}; }
  } failing;
  fixture::TempDir dir;
  SearchSettings settings;
  settings.hyperband.max_epochs = 9;
  settings.hyperband.factor = 3;
  settings.space = SearchSpace::original_study();
  settings.progress_seconds = 1000;
  settings.metadata = metadata();
  settings.results_path = dir.file("failed.h5");
  auto pool = make_in_process_pool(failing);
  const auto summary = run_search(settings, *pool);
  std::string why;
  EXPECT_EQ(search_exit_status(summary, why), kExitNoResult);
  EXPECT_NE(why.find("every trial failed"), std::string::npos) << why;
  EXPECT_NE(why.find("out of memory in epoch 1"), std::string::npos) << why;

  SearchSummary diverged;
  diverged.completed = 5;
  diverged.best_trial = 2;
  diverged.final = FinalOutcome{};
  diverged.final->status = TrialStatus::Diverged;
  diverged.final->message = "loss is NaN";
  EXPECT_EQ(search_exit_status(diverged, why), kExitNoResult);
  EXPECT_NE(why.find("final retraining diverged: loss is NaN"), std::string::npos) << why;
  diverged.final->status = TrialStatus::Ok;
  EXPECT_EQ(search_exit_status(diverged, why), 0);
}

// The NaN policy: a trial whose scores are NaN, though it reports success, ranks last, is never
// the best, and the search goes on.
TEST(Coordinator, ATrialScoredNaNRanksLastAndIsNeverTheBest) {
  class NaNFirst : public Objective {
   public:
    TrialOutcome run(const TrialSpec& spec) override {
      auto o = inner_->run(spec);
      if (spec.id == 0)
        for (auto& e : o.epochs) e.validation_hit_rate = std::nan("");
      return o;
    }
    FinalOutcome run_final(const TrialSpec& spec) override { return inner_->run_final(spec); }

   private:
    std::unique_ptr<Objective> inner_ = make_null_objective();
  } objective;
  fixture::TempDir dir;
  SearchSettings settings;
  settings.hyperband.max_epochs = 9;
  settings.hyperband.factor = 3;
  settings.space = SearchSpace::original_study();
  settings.progress_seconds = 1000;
  settings.final_epochs = 0;
  settings.metadata = metadata();
  settings.results_path = dir.file("nan.h5");
  auto pool = make_in_process_pool(objective);
  const auto summary = run_search(settings, *pool);
  EXPECT_FALSE(summary.stopped());
  EXPECT_NE(summary.best_trial, 0);
  EXPECT_GE(summary.best_trial, 0);
  EXPECT_TRUE(std::isfinite(summary.best_score));
  EXPECT_EQ(summary.failed, 1);
  const auto recorded = scores(settings.results_path);
  EXPECT_TRUE(std::isnan(recorded.at(0)));
  EXPECT_EQ(recorded.size(), static_cast<std::size_t>(summary.completed));
}
