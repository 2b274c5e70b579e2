#pragma once
// The search loop: asks a scheduler for work, hands it to a pool of workers, records what
// comes back and retrains the best configuration. The pool and the clock are given, so the same
// loop runs over MPI ranks, in process, and against simulated workers in simulated time.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crimegraph/search/asha/asha.hpp"
#include "crimegraph/search/hyperband/plan.hpp"
#include "crimegraph/search/results_file.hpp"
#include "crimegraph/search/scheduler.hpp"

namespace crimegraph {

/// Seconds since some start, as the loop measures time.
class SearchClock {
 public:
  virtual ~SearchClock() = default;
  virtual double now() const = 0;
};

/// Wall time (std::chrono::steady_clock) since construction.
class SteadyClock : public SearchClock {
 public:
  double now() const override;

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// Workers as the loop sees them: numbered from 1.
class WorkerPool {
 public:
  struct Event {
    int worker = 0;
    std::optional<TrialOutcome> trial;
    std::optional<FinalOutcome> final;
  };
  virtual ~WorkerPool() = default;
  virtual int size() const = 0;
  /// The workers trials go to, size() of them.
  virtual std::vector<int> workers() const = 0;
  virtual void start(int worker, const TrialSpec& spec) = 0;
  virtual void start_final(int worker, const TrialSpec& spec) = 0;
  /// The next finished piece of work, or nothing once `seconds` have passed on the loop's clock.
  virtual std::optional<Event> wait(double seconds) = 0;
  /// Stops every worker and returns their accounting.
  virtual std::vector<WorkerStats> shutdown() = 0;
};

enum class Algorithm { Hyperband, Asha };
const char* algorithm_name(Algorithm algorithm);
Algorithm parse_algorithm(const std::string& text);

struct SearchSettings {
  Algorithm algorithm = Algorithm::Hyperband;
  HyperbandOptions hyperband;
  AshaOptions asha;
  /// A budget of time: no trial starts once the search has searched this many seconds (over
  /// all its runs, when resumed), and it ends, complete, when the running ones have finished
  /// (0: none).
  double time_limit_seconds = 0.0;
  SearchSpace space;
  std::uint64_t seed = 1;
  Ranking ranking = Ranking::BestEpoch;
  std::int32_t final_epochs = 25;  ///< 0 skips the final retraining
  double progress_seconds = 5.0;
  /// Finished trials reach the file at once when they arrive this far apart or more; faster
  /// ones are written in batches at most this much later.
  double flush_seconds = 0.25;
  /// What the workers run, for the log line that starts the search ("GLDNet kernel on avx2 ...").
  std::string workers_description;
  std::string results_path;
  SearchMetadata metadata;
  /// Continue the unfinished search recorded at results_path (see ResultsWriter): the
  /// scheduler's recorded calls are replayed, the unfinished trials run again.
  bool resume = false;
  /// A new search may replace a finished search's results file at results_path.
  bool overwrite = false;
  /// For tests of resuming: stop as a preempted search would, after this many newly finished
  /// trials, leaving its files unfinished (0: never).
  std::int64_t stop_after_trials = 0;
  /// Set (e.g. by a SIGTERM handler) to stop at once, leaving the files to resume: the finished
  /// trials are flushed, the workers are not waited for (they are being stopped too).
  const std::atomic<bool>* stop_requested = nullptr;
  /// Set (e.g. by Slurm's warning signal before a time limit) to start no new trial: the
  /// running ones finish and are recorded, then the search stops, its files left to resume.
  const std::atomic<bool>* drain_requested = nullptr;
  /// When the run must have ended (a batch job's time limit): a trial, or the final
  /// retraining, that the epoch times measured so far say would not finish by then is not
  /// started, and the search stops as when draining.
  std::optional<std::chrono::system_clock::time_point> deadline;
};

/// The scheduler the settings name.
std::unique_ptr<Scheduler> make_scheduler(const SearchSettings& settings);

struct SearchSummary {
  std::int64_t planned = 0, completed = 0, failed = 0;
  std::int64_t best_trial = -1;
  double best_score = 0.0;
  Configuration best_config;
  double wall_seconds = 0.0;
  double utilisation = 0.0;  ///< trial time / (workers x search wall time)
  double trials_per_second = 0.0;
  std::optional<FinalOutcome> final;
  std::vector<WorkerStats> workers;
  std::string results_path;
  std::int64_t resumed = 0;    ///< trials a resumed search found finished
  std::string first_failure;   ///< why the first failed or diverged trial of this run did
  bool time_limit_reached = false;  ///< the time budget ended the search
  /// Why a search ended before its end, leaving its files to resume.
  enum class Stop {
    None,
    AfterTrials,  ///< stop_after_trials
    OnRequest,    ///< stop_requested: the workers were not shut down
    Drained,      ///< drain_requested or the deadline: no trial was left running
  } stop = Stop::None;
  bool stopped() const { return stop != Stop::None; }
};

/// Exit status of a search that ran to its end: 0, or 3 (with `why`) when it has no result to
/// give: every trial failed or diverged, or the final retraining did.
inline constexpr int kExitNoResult = 3;
int search_exit_status(const SearchSummary& summary, std::string& why);

class SearchLoop {
 public:
  SearchLoop(const SearchSettings& settings, Scheduler& scheduler, WorkerPool& pool, const SearchClock& clock);
  /// Runs the search to its end (or a stop), then retrains the best and shuts the workers down.
  SearchSummary run();

 private:
  struct Running {
    TrialSpec spec;  // without its parent's checkpoint
    double start_seconds = 0.0;
    std::int64_t dispatch_order = 0;
  };

  void replay();
  void record(const TrialSpec& spec, const TrialOutcome& outcome, const TrialTiming* fresh);
  void dispatch();
  void finish_trial(WorkerPool::Event event);
  bool draining() const;
  bool time_is_up() const;
  bool fits_before_deadline(std::int32_t epochs) const;
  void progress();
  void flush_if_due(bool force);
  bool should_stop();
  void retrain_best();

  const SearchSettings& settings_;
  Scheduler& scheduler_;
  WorkerPool& pool_;
  const SearchClock& clock_;
  ResultsWriter results_;
  SearchSummary summary_;
  double t0_ = 0.0;
  std::optional<double> deadline_;  // on the clock
  TrialSpec best_spec_;
  std::deque<int> idle_;
  std::map<int, Running> running_;  // by worker
  std::deque<std::pair<TrialSpec, std::int64_t>> pending_;  // replayed, to run again, with their dispatch order
  double busy_seconds_ = 0.0, slowest_epoch_ = 0.0;
  double searched_before_ = 0.0;  // by the runs a resumed search continues
  std::int64_t finished_here_ = 0, epochs_before_ = 0;
  bool out_of_time_ = false;
  double last_flush_ = 0.0, next_progress_ = 0.0;
};

/// Runs the search the settings describe on `pool`, on wall time.
SearchSummary run_search(const SearchSettings& settings, WorkerPool& pool);

}  // namespace crimegraph
