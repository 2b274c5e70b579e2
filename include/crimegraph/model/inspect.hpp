#pragma once
// The human-readable summary printed by `crimegraph-prepare inspect`.
#include <string>

#include "crimegraph/data/dataset.hpp"
#include "crimegraph/model/hit_rate.hpp"

namespace crimegraph {

/// Nodes, edges, days and dates, channels, event totals, windows per split at `lookback`,
/// and the baselines (naive, historical, oracle when known) on the test split.
std::string inspect_report(const CrimeDataset& dataset, std::int32_t lookback, const HitRateOptions& options = {});

}  // namespace crimegraph
