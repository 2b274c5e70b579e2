#pragma once
// The messages between the coordinator (rank 0) and the workers: their tags and the byte
// encoding of the search layer's trial types.
// Messages are small: a configuration, a few numbers, and a checkpoint of a few KB that
// travels with the work and the result, so no shared filesystem is needed for checkpoints.
#include <cstdint>
#include <string>
#include <vector>

#include "crimegraph/search/trial.hpp"

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
/// The transport carries plain numbers.
constexpr int tag_number(Tag tag) { return static_cast<int>(tag); }
constexpr Tag tag_of(int number) { return static_cast<Tag>(number); }

std::string encode(const TrialSpec& spec);
TrialSpec decode_trial_spec(const std::string& bytes);
std::string encode(const TrialOutcome& outcome);
TrialOutcome decode_trial_outcome(const std::string& bytes);
std::string encode(const FinalOutcome& outcome);
FinalOutcome decode_final_outcome(const std::string& bytes);
std::string encode(const WorkerStats& stats);
WorkerStats decode_worker_stats(const std::string& bytes);

}  // namespace crimegraph
