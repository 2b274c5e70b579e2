#pragma once
// The trial types every scheduler, the search loop, the results file and the transports
// share. Plain values: the cluster layer only encodes and decodes them.
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crimegraph/model/bootstrap.hpp"
#include "crimegraph/model/training_record.hpp"
#include "crimegraph/search/space.hpp"

namespace crimegraph {

enum class Ranking {
  BestEpoch,  ///< a trial scores its best validation hit rate over the epochs it trained
  LastEpoch,  ///< a trial scores the validation hit rate of its last epoch
};
const char* ranking_name(Ranking ranking);
Ranking parse_ranking(const std::string& text);

/// One piece of work: train `config` from start_epoch to end_epoch.
struct TrialSpec {
  std::int64_t id = 0;          ///< stable, unique in the search (each scheduler says how it numbers)
  std::int64_t parent_id = -1;  ///< the trial this one continues, -1 for a new configuration
  std::int64_t config_id = 0;   ///< dense index of the configuration in the search
  std::int32_t iteration = 0, bracket = 0, round = 0, slot = 0;  ///< round: Hyperband's round, ASHA's rung
  std::int32_t start_epoch = 0;  ///< epochs already trained (the parent's)
  std::int32_t end_epoch = 0;    ///< epochs trained by the end of this trial
  std::uint64_t seed = 0;        ///< seed of the configuration's weights and batch order
  Configuration config;
  std::string parent_checkpoint;  ///< the parent's training state; empty for a new configuration

  std::int32_t epochs() const { return end_epoch - start_epoch; }
};

/// What a scheduler is told of a finished trial.
struct TrialReport {
  std::int64_t id = 0;
  bool ok = true;           ///< false for failed or diverged trials: they rank last
  double best_score = 0.0;  ///< best validation hit rate over this trial's epochs
  double last_score = 0.0;  ///< validation hit rate of its last epoch
  std::string checkpoint;   ///< training state at end_epoch; may be empty when the caller keeps it
};

/// What a worker sends back for a trial.
struct TrialOutcome {
  std::int64_t id = 0;
  TrialStatus status = TrialStatus::Ok;
  std::string message;
  std::vector<EpochRecord> epochs;  ///< the epochs this trial trained
  std::string checkpoint;
  std::int32_t worker = 0;
  double wall_seconds = 0.0;

  double best_hit_rate() const;  ///< NaN without epochs
  double last_hit_rate() const;
  /// The score `ranking` gives, NaN when the trial has none. The NaN policy: a trial without a
  /// finite score ranks last in every scheduler and is never the best.
  double score(Ranking ranking) const;
  bool scored(Ranking ranking) const;
};

/// The best configuration retrained from scratch and scored on the test split.
struct FinalOutcome {
  TrialStatus status = TrialStatus::Ok;
  std::string message;
  std::int32_t epochs = 0;
  double best_validation_hit_rate = 0.0;
  double test_hit_rate = 0.0;
  double naive = 0.0, historical = 0.0;
  std::optional<double> oracle;
  /// 95% block-bootstrap intervals over the test days (see model/bootstrap.hpp).
  Interval test_interval, naive_interval, historical_interval, oracle_interval;
  std::string best_baseline;  ///< "naive" or "historical": the better one on the test split
  double gain = std::nan("");  ///< GLDNet's test hit rate minus the best baseline's
  Interval gain_interval;      ///< the paired interval of the gain, the same days resampled for both
  std::string hit_rate_description;
  std::string checkpoint;
  std::vector<EpochRecord> history;  ///< every epoch of the retraining
};

/// A worker's accounting, sent when it shuts down.
struct WorkerStats {
  std::int32_t worker = 0;
  std::int64_t trials = 0;
  double busy_seconds = 0.0;         ///< wall time spent running trials
  double waiting_seconds = 0.0;      ///< wall time spent waiting for messages
  double waiting_cpu_seconds = 0.0;  ///< CPU time used while waiting: ~0 if waiting does not spin
};

}  // namespace crimegraph
