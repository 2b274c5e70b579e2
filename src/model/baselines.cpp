#include "crimegraph/model/baselines.hpp"

namespace crimegraph {

BaselineScores baseline_hit_rates(const CrimeDataset& ds, const WindowIndex& index, Split split,
                                  const HitRateOptions& options) {
  const auto n = ds.nodes();
  const auto channels = ds.channel_count();
  const auto violent = ds.channel_index(kDefaultChannels[2]);

  // Historical average: mean label per node over the training days.
  std::vector<float> historical(static_cast<std::size_t>(n), 0.0f);
  const auto train = index.days_of(Split::Train);
  for (auto t = train.first; t < train.end; ++t) {
    const auto* lab = ds.label.data() + static_cast<std::size_t>(t) * n;
    for (std::int32_t i = 0; i < n; ++i) historical[i] += static_cast<float>(lab[i]);
  }
  for (auto& h : historical) h /= static_cast<float>(std::max(1, train.size()));

  const auto& lengths = ds.graph.length_m;
  HitRate naive(options, lengths), hist(options, lengths), oracle(options, lengths);
  std::vector<float> yesterday(static_cast<std::size_t>(n));
  for (auto t : index.target_days(split)) {
    const auto* lab = ds.label.data() + static_cast<std::size_t>(t) * n;
    const float* prev = ds.features_of_day(t - 1);
    for (std::int32_t i = 0; i < n; ++i) yesterday[i] = prev[static_cast<std::size_t>(i) * channels + violent];
    naive.add_day(yesterday.data(), lab, n);
    hist.add_day(historical.data(), lab, n);
    if (ds.has_intensity()) oracle.add_day(ds.intensity.data() + static_cast<std::size_t>(t) * n, lab, n);
  }
  BaselineScores out;
  out.naive = naive.value();
  out.historical = hist.value();
  out.naive_interval = naive.interval();
  out.historical_interval = hist.interval();
  out.naive_days = naive.days();
  out.historical_days = hist.days();
  if (ds.has_intensity()) {
    out.oracle = oracle.value();
    out.oracle_interval = oracle.interval();
  }
  return out;
}

BaselineComparison compare_with_baselines(double hit_rate, const std::vector<DayScore>& days,
                                          const BaselineScores& b) {
  const bool naive_best = b.naive >= b.historical;
  BaselineComparison c;
  c.best_baseline = naive_best ? "naive" : "historical";
  c.gain = hit_rate - (naive_best ? b.naive : b.historical);
  c.interval = paired_difference_interval(days, naive_best ? b.naive_days : b.historical_days);
  return c;
}

}  // namespace crimegraph
