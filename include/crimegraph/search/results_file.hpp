#pragma once
// The search results file (HDF5), written only by the coordinator. While the search runs it
// lives at "<path>.partial" and is flushed after every finished trial; when the search ends it
// is marked complete and renamed to <path>. Beside it, "<path>.checkpoints" keeps the training
// state of every finished trial a promotion may continue, so that a search stopped part way
// (preempted, killed) resumes from its files; it is removed when the search completes.
// Layout: docs/results-format.md.
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "crimegraph/search/trial.hpp"
#include "crimegraph/search/space.hpp"

namespace crimegraph {

inline constexpr const char* kResultsFormatName = "crimegraph-results";
inline constexpr int kResultsFormatVersion = 3;

struct SearchMetadata {
  std::string name, job_text, space_text, plan_text;
  std::string variant, ranking, objective, dataset, hit_rate;
  std::uint64_t seed = 0;
  std::int64_t planned_trials = 0;
  std::int32_t workers = 0;
};

/// What must be the same for two runs to be one search (a resume): the attribute of the
/// results file each is recorded in, and its value as text.
std::map<std::string, std::string> search_identity(const SearchMetadata& metadata);

/// Where a search whose results go to `path` keeps them while it runs, and the training states
/// it keeps for resuming.
inline std::string partial_results_path(const std::string& path) { return path + ".partial"; }
inline std::string checkpoints_path(const std::string& path) { return path + ".checkpoints"; }

/// When and in which order a trial ran: for the timeline, and for replaying the scheduler's
/// calls when a stopped search resumes.
struct TrialTiming {
  double start_seconds = std::nan("");  ///< dispatched, seconds after its run started
  double end_seconds = std::nan("");    ///< its result arrived
  std::int64_t dispatch_order = -1;     ///< its place in the order the scheduler handed trials out
  std::int64_t dispatched_at_report = -1;  ///< trials handed out when its result was reported
};

/// A finished trial as the results file recorded it, for resuming a search. Its checkpoint,
/// when one was kept, is read with ResultsWriter::checkpoint.
struct RecordedTrial {
  std::int64_t parent_id = -1, config_id = 0;
  std::int32_t start_epoch = 0, end_epoch = 0;
  std::int64_t dispatched_at_report = -1;
  std::int64_t row = 0;  ///< its place in the file: the order results arrived in
  std::int32_t run = 0;  ///< the run of the search that trained it
  double end_seconds = 0.0;  ///< when its result arrived, after that run started
  TrialOutcome outcome;
};

enum class ResultsOpen {
  Create,   ///< a new search; refuses to replace a finished search's file or an unfinished one's files
  Replace,  ///< a new search that may replace a finished search's file (not an unfinished one's)
  Resume,  ///< continue the unfinished search at "<path>.partial", which must be this search
};

class ResultsWriter {
 public:
  /// With ResultsOpen::Resume, reads the finished trials back (recorded()) and appends after
  /// them; a write cut off by a crash is cut back to the last whole trial.
  ResultsWriter(const std::string& path, const SearchMetadata& metadata, const SearchSpace& space,
                ResultsOpen open = ResultsOpen::Create);
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  /// Queues one trial (a row of /trials, its epochs to /curves); flush() writes it.
  void add_trial(const TrialSpec& spec, const TrialOutcome& outcome, double score, const TrialTiming& timing = {});
  /// Keeps a finished trial's training state for promotions and resuming (written at the next
  /// flush, first). Only an index stays in memory: checkpoint() reads the bytes back.
  void add_checkpoint(std::int64_t trial_id, const std::string& checkpoint);
  bool has_checkpoint(std::int64_t trial_id) const;
  /// A kept checkpoint; Error when none was kept for the trial.
  std::string checkpoint(std::int64_t trial_id) const;
  /// Writes every queued row, one extend + write per column, and flushes the file.
  void flush();
  std::size_t queued() const;
  /// Records the best trial so far, with its checkpoint (written at the next flush).
  void set_best(const TrialSpec& spec, double score, const std::string& checkpoint);
  void set_final(const FinalOutcome& final, const Configuration& config);
  /// Sets the summary attributes, marks the file complete and renames it to its final path.
  void finish(double wall_seconds, double utilisation);

  /// The trials a resumed search had finished, by id (empty for a new search).
  const std::map<std::int64_t, RecordedTrial>& recorded() const;

  const std::string& path() const { return path_; }
  std::string partial_path() const { return partial_results_path(path_); }
  std::string checkpoints_path() const { return crimegraph::checkpoints_path(path_); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

}  // namespace crimegraph
