#pragma once
// Trains and evaluates one GLDNet configuration: the unit of work of a search trial.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crimegraph/data/windows.hpp"
#include "crimegraph/model/hit_rate.hpp"
#include "crimegraph/model/hyperparameters.hpp"
#include "crimegraph/model/training_data.hpp"
#include "crimegraph/model/training_record.hpp"

namespace crimegraph {

struct Evaluation {
  double loss = 0.0;
  double hit_rate = 0.0;
  std::int64_t days_scored = 0;
  Interval interval;             ///< the hit rate's 95% bootstrap interval
  std::vector<DayScore> days;    ///< what the hit rate sums, day by day (for paired comparisons)
};

struct TrainerOptions {
  std::uint64_t seed = 1;          ///< weight initialisation and batch order
  std::int32_t threads = 1;        ///< intra-op threads (OpenMP)
  HitRateOptions hit_rate;         ///< how validation and test are scored
  std::int32_t eval_batch_size = 64;
  /// fit() stops with Failed once it has run this long (checked every batch; 0: no limit).
  double time_limit_seconds = 0.0;
};

/// About how many bytes training `hp` on `nodes` segments with `inputs` temporal summaries per
/// segment (TrainingData::smoothed_width) holds at its peak, beyond the dataset: the parameters
/// (values, gradients, Adam's moments, a checkpoint's copies), each thread's activations, and
/// lane-wide gradient sums for every group of a batch (the term that grows with the layers'
/// units squared and with the batch). For warnings before the work starts.
std::size_t training_memory_bytes(const Hyperparameters& hp, std::int64_t nodes, std::int64_t inputs,
                                  std::int32_t threads);

class Trainer {
 public:
  /// Builds the model; throws ConfigError when the data is too short for the lookback.
  Trainer(std::shared_ptr<const TrainingData> data, Hyperparameters hyperparameters, TrainerOptions options = {});
  ~Trainer();
  Trainer(Trainer&&) noexcept;
  Trainer& operator=(Trainer&&) noexcept;

  /// Trains until `epochs` epochs have been completed in total (continuing from epoch()),
  /// scoring the validation split after each. Stops early with Diverged when the loss is not
  /// finite. `on_epoch` sees each finished epoch.
  TrialStatus fit(std::int32_t epochs, const std::function<void(const EpochRecord&)>& on_epoch = {});
  /// Loss and hit rate of the current model on a split.
  Evaluation evaluate(Split split);
  /// Predictions for the given target days, [day][node].
  std::vector<float> predict(const std::vector<std::int32_t>& target_days);

  std::int32_t epoch() const;
  TrialStatus status() const;
  const std::string& message() const;
  const std::vector<EpochRecord>& history() const;  ///< the epochs trained by this object
  const Hyperparameters& hyperparameters() const;
  const WindowIndex& windows() const;
  std::int64_t parameter_count() const;
  /// How many intra-op threads ran groups of windows so far (at most TrainerOptions::threads).
  int threads_used() const;

  /// The full training state (weights, optimiser moments, schedule position, epoch, seed and
  /// hyperparameters) as bytes; restore() on a Trainer of the same hyperparameters resumes
  /// exactly where this one stopped.
  std::string checkpoint() const;
  void restore(const std::string& bytes);
  /// The hyperparameters a checkpoint was made with (a Trainer of them can restore it).
  static Hyperparameters checkpoint_hyperparameters(const std::string& bytes);
  /// Writes checkpoint() to a file (atomically).
  void save(const std::string& path) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crimegraph
