#pragma once
// The search results file (HDF5), written only by the coordinator. While the search runs it
// lives at "<path>.partial" and is flushed after every finished trial; when the search ends it
// is marked complete and renamed to <path>. Layout: docs/results-format.md.
#include <memory>
#include <string>

#include "crimegraph/cluster/messages.hpp"
#include "crimegraph/search/space.hpp"

namespace crimegraph {

inline constexpr const char* kResultsFormatName = "crimegraph-results";
inline constexpr int kResultsFormatVersion = 1;

struct SearchMetadata {
  std::string name, job_text, space_text, plan_text;
  std::string variant, ranking, objective, dataset, hit_rate;
  std::uint64_t seed = 0;
  std::int64_t planned_trials = 0;
  std::int32_t workers = 0;
};

class ResultsWriter {
 public:
  ResultsWriter(const std::string& path, const SearchMetadata& metadata, const SearchSpace& space);
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  /// Queues one trial (a row of /trials, its epochs to /curves); flush() writes it.
  void add_trial(const TrialSpec& spec, const TrialOutcome& outcome, double score);
  /// Writes every queued row, one extend + write per column, and flushes the file.
  void flush();
  std::size_t queued() const;
  /// Records the best trial so far, with its checkpoint (written at the next flush).
  void set_best(const TrialSpec& spec, double score, const std::string& checkpoint);
  void set_final(const FinalOutcome& final, const Configuration& config);
  /// Sets the summary attributes, marks the file complete and renames it to its final path.
  void finish(double wall_seconds, double utilisation);

  const std::string& path() const { return path_; }
  std::string partial_path() const { return path_ + ".partial"; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

}  // namespace crimegraph
