#pragma once
// Putting a trained model to use: each street segment's predicted violent-crime risk for one
// day, ranked, with the segments a patrol plan at the given coverage would flag.
#include <cstdint>
#include <string>
#include <vector>

#include "crimegraph/data/dataset.hpp"
#include "crimegraph/model/hit_rate.hpp"

namespace crimegraph {

/// `dataset` with one day added after its last, with no events (features, labels and counts
/// zero): the window of that day reads only the real days before it, so the model can be
/// scored for the day after the data.
CrimeDataset with_day_after(const CrimeDataset& dataset);

struct SegmentRanking {
  std::int32_t target_day = 0;      ///< index into the dataset's days
  std::vector<float> risk;          ///< per node: the model's prediction for that day
  std::vector<std::int32_t> rank;   ///< per node: 1 for the highest risk
  std::vector<std::uint8_t> flagged;  ///< per node: in the top set at the coverage
  std::int32_t flagged_count = 0;
};

/// Restores the model in `checkpoint` (crimegraph's trainer format, which names its own
/// hyperparameters) and ranks the segments of `dataset` for `target_day`, whose window
/// (the lookback's days before it) must lie inside the dataset. Flags the top floor(c N)
/// segments, or for HitRateKind::StreetLength the top segments covering c of street length,
/// as the hit rate counts them.
SegmentRanking rank_segments(const CrimeDataset& dataset, const std::string& checkpoint, std::int32_t target_day,
                             const HitRateOptions& scoring, std::int32_t threads = 1);

}  // namespace crimegraph
