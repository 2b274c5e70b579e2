#pragma once
// What a worker does with a trial. GLDNet training is the real objective; the null objective
// returns an instant, deterministic score and exists to measure the scheduler and transport.
#include <memory>
#include <string>

#include "crimegraph/search/trial.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/model/hit_rate.hpp"
#include "crimegraph/model/hyperparameters.hpp"
#include "crimegraph/model/training_data.hpp"

namespace crimegraph {

class Objective {
 public:
  virtual ~Objective() = default;
  /// Trains one trial (continuing from spec.parent_checkpoint when it has a parent).
  /// Never throws for a bad trial: failures come back as TrialStatus::Failed.
  virtual TrialOutcome run(const TrialSpec& spec) = 0;
  /// Retrains spec.config from scratch for spec.end_epoch epochs and scores the test split.
  virtual FinalOutcome run_final(const TrialSpec& spec) = 0;
};

struct GLDNetObjectiveOptions {
  DatasetSource dataset;
  /// The training data, when made already (a search's workers share one copy per node);
  /// otherwise the objective reads the dataset and keeps its own.
  std::shared_ptr<const TrainingData> training;
  Hyperparameters base;   ///< values the search space does not set
  std::int32_t threads = 1;
  /// Threads of the final retraining, which runs while every other worker waits (0: threads).
  std::int32_t final_threads = 0;
  /// Without `training`: the objective keeps every window's smoothed inputs when they take at
  /// most this many bytes, so that trials load windows from that table instead of smoothing raw
  /// days (0: never).
  std::size_t window_cache_bytes = 0;
  /// Without `training`: keep the dataset's daily counts, for trials that recompute the
  /// channels with their own smoothing factor (see needs_daily_counts).
  bool keep_counts = false;
  HitRateOptions hit_rate;
  /// A trial (not the final retraining) that trains longer than this fails with that reason
  /// and the search goes on (0: no limit).
  double trial_timeout_seconds = 0.0;
};

/// Throws ConfigError unless every parameter of `space` is a GLDNet hyperparameter and every
/// value the space can produce is a valid value of it.
void check_gldnet_space(const SearchSpace& space);

/// Whether trials of this space (over `base`) recompute the input channels from the daily counts.
bool needs_daily_counts(const Hyperparameters& base, const SearchSpace& space);

/// Trains every trial on the same training data.
std::unique_ptr<Objective> make_gldnet_objective(const GLDNetObjectiveOptions& options);
/// Instant and deterministic: the score is a hash of configuration and epoch.
std::unique_ptr<Objective> make_null_objective();

}  // namespace crimegraph
