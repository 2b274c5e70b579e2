#pragma once
// What crimegraph-report prints and exports from a results file: counts by status, the best
// configurations, each successive-halving round, the final model against the baselines, and
// where the workers' time went.
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "crimegraph/search/results_reader.hpp"

namespace crimegraph {

struct RoundSummary {
  std::int32_t iteration = 0, bracket = 0, round = 0;
  std::int64_t trials = 0, ok = 0;
  std::int32_t end_epoch = 0;     ///< epochs each trial of the round has trained by its end
  double best_score = 0.0;        ///< NaN when no trial of the round is ok
  std::int64_t promoted = 0;      ///< trials a later round continued
  double cutoff = 0.0;            ///< the lowest promoted score; NaN when none was promoted
};

struct WorkerTime {
  std::int32_t worker = 0;
  std::int64_t trials = 0;
  double busy_seconds = 0.0;
  double idle_seconds = 0.0;  ///< of the run's wall time
};

struct ReportSummary {
  std::int64_t planned = 0, finished = 0, epochs_trained = 0;
  std::map<std::string, std::int64_t> by_status;  ///< ok, diverged, failed
  std::vector<std::size_t> top;  ///< rows of trials(): each configuration's best, best first
  std::vector<RoundSummary> rounds;               ///< by iteration, bracket, round
  std::int32_t run = 0;                           ///< the latest run (0: never resumed)
  double wall_seconds = 0.0;                      ///< the latest run's
  std::vector<WorkerTime> workers;                ///< in the latest run, by rank
};

ReportSummary summarize(const ResultsReader& results, std::size_t top = 10);

/// The human-readable report.
void print_report(const ResultsReader& results, const ReportSummary& summary, std::ostream& out);
/// Two searches side by side: settings that differ, counts, best and final scores, times.
void print_comparison(const ResultsReader& a, const ReportSummary& sa, const ResultsReader& b,
                      const ReportSummary& sb, std::ostream& out);
/// A table as CSV with a header row; `columns` empty for all. Throws ConfigError for an
/// unknown column.
void write_csv(const Table& table, const std::vector<std::string>& columns, std::ostream& out);
/// The summary as one JSON object (settings, counts, top trials, rounds, best, final, workers).
std::string summary_json(const ResultsReader& results, const ReportSummary& summary);
/// The schema as Markdown tables (docs/results-format.md carries the same).
std::string schema_markdown();

}  // namespace crimegraph
