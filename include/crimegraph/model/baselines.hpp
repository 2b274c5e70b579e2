#pragma once
// Reference scores computed with the same hit-rate code as the model:
// naive (yesterday's smoothed violent count), historical average over the training days,
// and on synthetic data the oracle (the true intensity, the best achievable ranking).
#include <optional>

#include "crimegraph/data/dataset.hpp"
#include "crimegraph/data/windows.hpp"
#include "crimegraph/model/hit_rate.hpp"

namespace crimegraph {

struct BaselineScores {
  double naive = 0.0;
  double historical = 0.0;
  std::optional<double> oracle;  ///< only when the dataset carries a true intensity
};

/// Scores the three baselines on the target days of `split`.
BaselineScores baseline_hit_rates(const CrimeDataset& dataset, const WindowIndex& index, Split split,
                                  const HitRateOptions& options);

}  // namespace crimegraph
