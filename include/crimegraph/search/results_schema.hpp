#pragma once
// The results file's schema, written once: every column of /trials, /curves and /final/curves
// and every attribute, with its type and meaning. The writer creates what it lists, the reader
// reads what it lists, `crimegraph-report --schema` prints it, and docs/results-format.md is
// checked against it by a test.
#include <cstddef>

namespace crimegraph {

enum class ValueType { Int64, Int32, Float64, String };
const char* value_type_name(ValueType type);

struct ColumnSpec {
  const char* name;
  ValueType type;
  const char* meaning;
};

/// /trials, one row per finished trial in completion order; one Float64 column per
/// hyperparameter of the search space follows these.
inline constexpr ColumnSpec kTrialColumns[] = {
    {"trial_id", ValueType::Int64, "stable id (Hyperband: bracket base + round x first-round size + slot; ASHA: dispatch order)"},
    {"parent_id", ValueType::Int64, "the trial this one continued, -1 in a first round"},
    {"config_id", ValueType::Int64, "dense index of the configuration in the search"},
    {"iteration", ValueType::Int32, "Hyperband iteration (0 for ASHA)"},
    {"bracket", ValueType::Int32, "bracket within the iteration"},
    {"round", ValueType::Int32, "successive-halving round within the bracket (ASHA: the rung)"},
    {"start_epoch", ValueType::Int32, "epochs trained before this trial (its parent's)"},
    {"end_epoch", ValueType::Int32, "epochs trained by the end of this trial"},
    {"epochs_trained", ValueType::Int32, "epochs this trial trained (rows in /curves)"},
    {"worker", ValueType::Int32, "MPI rank that trained it"},
    {"run", ValueType::Int32, "which run of the search trained it: 0 the first, k the k-th resume"},
    {"dispatch_order", ValueType::Int64, "its place in the order the scheduler handed trials out, from 0"},
    {"dispatched_at_report", ValueType::Int64,
     "trials the scheduler had handed out when its result was reported: with the rows' order, the calls a "
     "resumed search replays"},
    {"val_hit_rate_best", ValueType::Float64, "best validation hit rate over its epochs"},
    {"val_hit_rate_last", ValueType::Float64, "validation hit rate of its last epoch"},
    {"train_loss", ValueType::Float64, "training loss of its last epoch"},
    {"val_loss", ValueType::Float64, "validation loss of its last epoch"},
    {"score", ValueType::Float64, "what the ranking used; NaN for failed or diverged trials"},
    {"wall_seconds", ValueType::Float64, "the worker's wall time for the trial"},
    {"train_seconds", ValueType::Float64, "training and validation time of its epochs"},
    {"start_seconds", ValueType::Float64, "when it was dispatched, seconds after its run started"},
    {"end_seconds", ValueType::Float64, "when its result arrived, seconds after its run started"},
    {"status", ValueType::String, "ok, diverged or failed"},
    {"message", ValueType::String, "why it failed or diverged; empty when ok"},
};

/// /curves: one row per trained epoch of every trial, in the trials' order. /final/curves has
/// the same columns for the final retraining.
inline constexpr ColumnSpec kCurveColumns[] = {
    {"trial_id", ValueType::Int64, "the trial that trained the epoch"},
    {"epoch", ValueType::Int32, "epochs completed, 1-based, counting the parent's"},
    {"train_loss", ValueType::Float64, "mean training loss of the epoch"},
    {"val_loss", ValueType::Float64, "validation loss after the epoch"},
    {"val_hit_rate", ValueType::Float64, "validation hit rate after the epoch"},
    {"val_hit_rate_low", ValueType::Float64, "its 95% block-bootstrap interval over the validation days: low end"},
    {"val_hit_rate_high", ValueType::Float64, "high end"},
    {"learning_rate", ValueType::Float64, "learning rate at the end of the epoch"},
    {"train_seconds", ValueType::Float64, "time to train the epoch"},
    {"eval_seconds", ValueType::Float64, "time to score the validation split"},
};

struct AttributeSpec {
  const char* object;  ///< "" for the root
  const char* name;
  ValueType type;
  bool always;  ///< false: absent until the search reaches the point that sets it
  const char* meaning;
};

inline constexpr AttributeSpec kResultsAttributes[] = {
    {"", "format", ValueType::String, true, "crimegraph-results"},
    {"", "format_version", ValueType::Int64, true, "3"},
    {"", "search_id", ValueType::String, true, "random id the search's checkpoints file shares"},
    {"", "status", ValueType::String, true, "running or complete"},
    {"", "name", ValueType::String, true, "the job's name"},
    {"", "job", ValueType::String, true, "the job file's text"},
    {"", "search_space", ValueType::String, true, "the search space as text"},
    {"", "plan", ValueType::String, true, "the schedule as text: Hyperband's plan or ASHA's rungs and budget"},
    {"", "variant", ValueType::String, true, "the algorithm: keras or paper (Hyperband), or asha"},
    {"", "ranking", ValueType::String, true, "best-epoch or last-epoch"},
    {"", "objective", ValueType::String, true, "gldnet or null"},
    {"", "dataset", ValueType::String, true, "the dataset file"},
    {"", "hit_rate", ValueType::String, true, "how hit rates are scored"},
    {"", "seed", ValueType::Int64, true, "the search's seed"},
    {"", "software_version", ValueType::String, true, "crimegraph-search version"},
    {"", "created_utc", ValueType::String, true, "when the search started"},
    {"", "planned_trials", ValueType::Int64, true, "trials in the plan; -1 when the results decide (ASHA)"},
    {"", "workers", ValueType::Int64, true, "worker ranks of the latest run"},
    {"", "resumes", ValueType::Int64, false, "how many times the search was resumed"},
    {"", "resumed_utc", ValueType::String, false, "when it was last resumed"},
    {"", "finished_utc", ValueType::String, false, "when it completed"},
    {"", "wall_seconds", ValueType::Float64, false, "the last run's search time"},
    {"", "worker_utilisation", ValueType::Float64, false, "trial time / (workers x wall time) of the last run"},
    {"best", "trial_id", ValueType::Int64, false, "the best trial so far"},
    {"best", "config_id", ValueType::Int64, false, "its configuration"},
    {"best", "score", ValueType::Float64, false, "its score"},
    {"best", "end_epoch", ValueType::Int64, false, "its epochs"},
    {"best", "configuration", ValueType::String, false, "its hyperparameters as name=value"},
    {"final", "status", ValueType::String, false, "the final retraining's status"},
    {"final", "message", ValueType::String, false, "why it failed; empty when ok"},
    {"final", "epochs", ValueType::Int64, false, "epochs of the final retraining"},
    {"final", "configuration", ValueType::String, false, "the retrained configuration"},
    {"final", "hit_rate", ValueType::String, false, "how its hit rates are scored"},
    {"final", "best_val_hit_rate", ValueType::Float64, false, "best validation hit rate over its epochs"},
    {"final", "test_hit_rate", ValueType::Float64, false, "its test hit rate"},
    {"final", "naive_test_hit_rate", ValueType::Float64, false, "the naive baseline's (yesterday's count)"},
    {"final", "historical_test_hit_rate", ValueType::Float64, false, "the historical baseline's (training mean)"},
    {"final", "oracle_test_hit_rate", ValueType::Float64, false, "ranking by the true intensity (synthetic data)"},
    {"final", "test_hit_rate_low", ValueType::Float64, false, "95% block-bootstrap interval of the test hit rate: low end"},
    {"final", "test_hit_rate_high", ValueType::Float64, false, "high end"},
    {"final", "naive_test_hit_rate_low", ValueType::Float64, false, "the naive baseline's interval: low end"},
    {"final", "naive_test_hit_rate_high", ValueType::Float64, false, "high end"},
    {"final", "historical_test_hit_rate_low", ValueType::Float64, false, "the historical baseline's interval: low end"},
    {"final", "historical_test_hit_rate_high", ValueType::Float64, false, "high end"},
    {"final", "oracle_test_hit_rate_low", ValueType::Float64, false, "the oracle's interval: low end"},
    {"final", "oracle_test_hit_rate_high", ValueType::Float64, false, "high end"},
    {"final", "best_baseline", ValueType::String, false, "naive or historical: the better baseline on the test split"},
    {"final", "gain", ValueType::Float64, false, "test hit rate minus the best baseline's, on the same days"},
    {"final", "gain_low", ValueType::Float64, false, "its 95% paired bootstrap interval: low end"},
    {"final", "gain_high", ValueType::Float64, false, "high end"},
};

/// Datasets outside the column groups: the best trial's and the final model's training state.
inline constexpr const char* kBestCheckpoint = "best/checkpoint";
inline constexpr const char* kFinalCheckpoint = "final/checkpoint";

}  // namespace crimegraph
