#pragma once
// The messages between the coordinator (rank 0) and the workers, and their byte encoding.
// Messages are small: a configuration, a few numbers, and a checkpoint of a few KB that
// travels with the work and the result, so no shared filesystem is needed for checkpoints.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crimegraph/model/trainer.hpp"
#include "crimegraph/search/scheduler.hpp"

namespace crimegraph {

enum class Tag : int {
  Work = 1,         ///< coordinator -> worker: train one trial
  Result = 2,       ///< worker -> coordinator: the trial's outcome
  FinalWork = 3,    ///< coordinator -> worker: retrain the best configuration and score the test split
  FinalResult = 4,  ///< worker -> coordinator: test and baseline hit rates
  Shutdown = 5,     ///< coordinator -> worker: no more work
  Stats = 6,        ///< worker -> coordinator: busy/idle accounting, the worker's last message
  Fatal = 7,        ///< worker -> coordinator: the worker cannot go on (e.g. unreadable dataset)
};
const char* tag_name(Tag tag);

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
};

struct FinalOutcome {
  TrialStatus status = TrialStatus::Ok;
  std::string message;
  std::int32_t epochs = 0;
  double best_validation_hit_rate = 0.0;
  double test_hit_rate = 0.0;
  double naive = 0.0, historical = 0.0;
  std::optional<double> oracle;
  std::string hit_rate_description;
  std::string checkpoint;
  std::vector<EpochRecord> history;  ///< every epoch of the retraining
};

struct WorkerStats {
  std::int32_t worker = 0;
  std::int64_t trials = 0;
  double busy_seconds = 0.0;      ///< wall time spent running trials
  double waiting_seconds = 0.0;   ///< wall time spent waiting for messages
  double waiting_cpu_seconds = 0.0;  ///< CPU time used while waiting: ~0 if waiting does not spin
};

std::string encode(const TrialSpec& spec);
TrialSpec decode_trial_spec(const std::string& bytes);
std::string encode(const TrialOutcome& outcome);
TrialOutcome decode_trial_outcome(const std::string& bytes);
std::string encode(const FinalOutcome& outcome);
FinalOutcome decode_final_outcome(const std::string& bytes);
std::string encode(const WorkerStats& stats);
WorkerStats decode_worker_stats(const std::string& bytes);

}  // namespace crimegraph
