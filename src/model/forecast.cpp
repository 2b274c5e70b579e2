#include "crimegraph/model/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "crimegraph/error.hpp"
#include "crimegraph/model/trainer.hpp"

namespace crimegraph {

CrimeDataset with_day_after(const CrimeDataset& dataset) {
  CrimeDataset out = dataset;
  const auto nodes = static_cast<std::size_t>(dataset.nodes());
  out.day_number.push_back(dataset.day_number.empty() ? 0 : dataset.day_number.back() + 1);
  out.features.resize(out.features.size() + nodes * static_cast<std::size_t>(dataset.channel_count()), 0.0f);
  out.label.resize(out.label.size() + nodes, 0);
  out.counts.resize(out.counts.size() + nodes * static_cast<std::size_t>(dataset.category_count()), 0);
  if (dataset.has_intensity()) out.intensity.resize(out.intensity.size() + nodes, 0.0f);
  return out;
}

SegmentRanking rank_segments(const CrimeDataset& dataset, const std::string& checkpoint, std::int32_t target_day,
                             const HitRateOptions& scoring, std::int32_t threads) {
  scoring.validate();
  const auto hp = Trainer::checkpoint_hyperparameters(checkpoint);
  if (target_day < hp.lookback || target_day >= dataset.days()) {
    throw ConfigError("cannot rank day " + std::to_string(target_day) + ": the model reads the " +
                      std::to_string(hp.lookback) + " days before it, and the dataset has days 0.." +
                      std::to_string(dataset.days() - 1));
  }
  TrainerOptions options;
  options.threads = threads;
  options.hit_rate = scoring;
  Trainer trainer(std::make_shared<const TrainingData>(dataset, hp.smoothing), hp, options);
  trainer.restore(checkpoint);

  SegmentRanking out;
  out.target_day = target_day;
  out.risk = trainer.predict({target_day});
  const auto n = static_cast<std::size_t>(dataset.nodes());
  std::vector<std::int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return out.risk[a] > out.risk[b]; });
  out.rank.assign(n, 0);
  out.flagged.assign(n, 0);
  const auto& lengths = dataset.graph.length_m;
  const double total_length = std::accumulate(lengths.begin(), lengths.end(), 0.0);
  const auto top = static_cast<std::size_t>(std::floor(scoring.coverage * static_cast<double>(n)));
  double covered = 0.0;
  bool room = true;  // the top set is a prefix of the ranking
  for (std::size_t k = 0; k < n; ++k) {
    const auto node = order[k];
    out.rank[node] = static_cast<std::int32_t>(k + 1);
    room = room && (scoring.kind == HitRateKind::StreetLength ? covered + lengths[node] <= scoring.coverage * total_length
                                                              : k < top);
    if (room) {
      out.flagged[node] = 1;
      ++out.flagged_count;
      covered += lengths[node];
    }
  }
  return out;
}

}  // namespace crimegraph
