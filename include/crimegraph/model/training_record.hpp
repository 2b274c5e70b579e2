#pragma once
// What training reports about itself, with no dependency: a status and one record per epoch.
// The trainer makes them; the search layer records and ranks them (search/trial.hpp).
#include <cmath>
#include <cstdint>

namespace crimegraph {

enum class TrialStatus { Ok = 0, Diverged = 1, Failed = 2 };
const char* trial_status_name(TrialStatus status);

struct EpochRecord {
  std::int32_t epoch = 0;  ///< epochs completed, 1-based
  double train_loss = 0.0;
  double validation_loss = 0.0;
  double validation_hit_rate = 0.0;
  double validation_low = std::nan(""), validation_high = std::nan("");  ///< its 95% bootstrap interval
  double learning_rate = 0.0;  ///< at the end of the epoch
  double train_seconds = 0.0;
  double eval_seconds = 0.0;
};

}  // namespace crimegraph
