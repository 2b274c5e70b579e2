#pragma once
// What every search algorithm is to the search loop: "give me work" (next) and "here is a
// result" (report), as in Ray Tune's TrialScheduler. A scheduler knows nothing of MPI, Torch,
// files or time; it is a deterministic function of the calls it is given, so replaying the
// calls a stopped search made (the results file records them) restores its state exactly.
#include <cstdint>
#include <optional>
#include <string>

#include "crimegraph/search/trial.hpp"

namespace crimegraph {

/// How far a search has got, in the units every scheduler shares.
struct ScheduleCounts {
  std::int64_t planned = -1;  ///< trials the schedule will run; -1 when it depends on the results (ASHA)
  std::int64_t dispatched = 0, completed = 0, failed = 0;
  std::int64_t epochs_planned = -1;  ///< -1 when unknown
  std::int64_t epochs_completed = 0;
  std::int64_t running() const { return dispatched - completed; }
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  /// A runnable trial, or nothing when none is runnable now (more may follow results).
  virtual std::optional<TrialSpec> next() = 0;
  /// Records a finished trial; throws Error for an unknown id or a second report. A failed
  /// trial, or one without a finite score, ranks last and is never promoted.
  virtual void report(const TrialReport& report) = 0;
  /// Every trial the schedule will run has been reported.
  virtual bool finished() const = 0;
  const ScheduleCounts& counts() const { return counts_; }
  /// Epochs of the longest trial: a trial that reaches them is never continued.
  virtual std::int32_t max_epochs() const = 0;
  /// The schedule for people (and the results file): brackets, rounds or rungs, budgets.
  virtual std::string describe() const = 0;

 protected:
  ScheduleCounts counts_;
};

}  // namespace crimegraph
