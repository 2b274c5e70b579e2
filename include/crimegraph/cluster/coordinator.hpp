#pragma once
// The coordinator's loop and the worker's loop. The coordinator drives the scheduler and the
// results file through a WorkerPool, so the same loop runs over MPI ranks or in-process.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "crimegraph/cluster/messages.hpp"
#include "crimegraph/cluster/objective.hpp"
#include "crimegraph/search/results_file.hpp"
#include "crimegraph/search/scheduler.hpp"

namespace crimegraph {

class MpiTransport;

/// Workers as the coordinator sees them: numbered 1..size().
class WorkerPool {
 public:
  struct Event {
    int worker = 0;
    std::optional<TrialOutcome> trial;
    std::optional<FinalOutcome> final;
  };
  virtual ~WorkerPool() = default;
  virtual int size() const = 0;
  /// The workers trials go to (MPI ranks, or 1 in process), size() of them.
  virtual std::vector<int> workers() const = 0;
  virtual void start(int worker, const TrialSpec& spec) = 0;
  virtual void start_final(int worker, const TrialSpec& spec) = 0;
  /// The next finished piece of work, or nothing by `deadline`.
  virtual std::optional<Event> wait(std::chrono::steady_clock::time_point deadline) = 0;
  /// Stops every worker and returns their accounting.
  virtual std::vector<WorkerStats> shutdown() = 0;
};

/// Ranks 1..workers over MPI, all of them training.
std::unique_ptr<WorkerPool> make_mpi_worker_pool(MpiTransport& transport, int workers);
/// Ranks 1..workers over MPI, of which only `training` are given trials; the others wait,
/// blocked, until shutdown() (ranks beyond their node's cores would only slow the others).
std::unique_ptr<WorkerPool> make_mpi_worker_pool(MpiTransport& transport, int workers, std::vector<int> training);
/// One worker running inside the coordinator's process (a single-rank run).
std::unique_ptr<WorkerPool> make_in_process_pool(Objective& objective);

struct SearchSettings {
  HyperbandOptions hyperband;
  SearchSpace space;
  std::uint64_t seed = 1;
  Ranking ranking = Ranking::BestEpoch;
  std::int32_t final_epochs = 25;  ///< 0 skips the final retraining
  double progress_seconds = 5.0;
  std::string results_path;
  SearchMetadata metadata;
  /// Continue the unfinished search recorded at results_path (see ResultsWriter): its finished
  /// trials count as done, the rest run again, promotions continue from the kept checkpoints.
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

struct SearchSummary {
  std::int64_t planned = 0, completed = 0, failed = 0;
  std::int64_t best_trial = -1;
  double best_score = 0.0;
  Configuration best_config;
  double wall_seconds = 0.0;
  double utilisation = 0.0;      ///< trial time / (workers x search wall time)
  double trials_per_second = 0.0;
  std::optional<FinalOutcome> final;
  std::vector<WorkerStats> workers;
  std::string results_path;
  std::int64_t resumed = 0;  ///< trials a resumed search found finished
  std::string first_failure;  ///< why the first failed or diverged trial of this run did
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

/// How many of a node's workers are given trials: `setting` is "auto" (one per `threads` of
/// the node's cores, at least one: more would only share the cores and slow every trial),
/// "all", or a number (at most the node's workers). Throws ConfigError for anything else.
int training_workers(const std::string& setting, int node_workers, int node_cores, int threads);

/// Runs the whole search: dispatches, records, promotes, retrains the best, shuts workers down.
SearchSummary run_search(const SearchSettings& settings, WorkerPool& pool);

/// A worker rank's loop: run work until told to shut down.
void run_worker(MpiTransport& transport, int rank, Objective& objective);

}  // namespace crimegraph
