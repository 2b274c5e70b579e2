#pragma once
// Reference scores computed with the same hit-rate code as the model:
// naive (yesterday's smoothed violent count), historical average over the training days,
// and on synthetic data the oracle (the true intensity, the best achievable ranking).
#include <optional>
#include <string>
#include <vector>

#include "crimegraph/data/dataset.hpp"
#include "crimegraph/data/windows.hpp"
#include "crimegraph/model/hit_rate.hpp"

namespace crimegraph {

struct BaselineScores {
  double naive = 0.0;
  double historical = 0.0;
  std::optional<double> oracle;  ///< only when the dataset carries a true intensity
  Interval naive_interval, historical_interval, oracle_interval;  ///< 95% bootstrap intervals
  std::vector<DayScore> naive_days, historical_days;              ///< for paired comparisons
};

/// A model's test hit rate against the better of the naive and historical baselines, scored
/// on the same days: the gain and its paired bootstrap interval.
struct BaselineComparison {
  std::string best_baseline;  ///< "naive" or "historical"
  double gain = 0.0;
  Interval interval;
};
BaselineComparison compare_with_baselines(double hit_rate, const std::vector<DayScore>& days,
                                          const BaselineScores& baselines);

/// Scores the three baselines on the target days of `split`.
BaselineScores baseline_hit_rates(const CrimeDataset& dataset, const WindowIndex& index, Split split,
                                  const HitRateOptions& options);

}  // namespace crimegraph
