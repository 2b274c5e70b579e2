#include "crimegraph/model/training_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "crimegraph/error.hpp"
#include "crimegraph/model/gldnet_kernel.hpp"

namespace crimegraph {

TrainingData::TrainingData(const CrimeDataset& ds)
    : days_(ds.days()),
      nodes_(ds.nodes()),
      channels_(ds.channel_count()),
      adjacency_(sparse_adjacency(ds.graph, AdjacencyNorm::Row)),
      lengths_(ds.graph.length_m) {
  // Long exponential decays in the smoothed channels leave subnormal values (down to 1e-45;
  // 4% of the synthetic city's inputs). As counts they mean nothing, and any code that reads
  // them without flush-to-zero set pays a microcode assist per multiply; the kernel treats
  // them as zeros anyway (denormals-are-zero), so they become zeros here.
  day_major_.resize(ds.features.size());
  std::transform(ds.features.begin(), ds.features.end(), day_major_.begin(),
                 [](float v) { return std::fpclassify(v) == FP_SUBNORMAL ? 0.0f : v; });
  label_.assign(ds.label.begin(), ds.label.end());
}

std::vector<float> TrainingData::smoothing_weights(std::int32_t lookback) {
  if (lookback < 1) throw ConfigError("lookback must be at least 1");
  std::vector<float> weight(static_cast<std::size_t>(kSmoothingScales) * lookback);
  for (int s = 0; s < kSmoothingScales; ++s) {
    double sum = 0.0, w = 1.0;
    for (int back = 0; back < lookback; ++back, w *= kSmoothingGammas[s]) sum += w;
    w = 1.0;
    for (int back = 0; back < lookback; ++back, w *= kSmoothingGammas[s]) {
      weight[static_cast<std::size_t>(s) * lookback + (lookback - 1 - back)] = static_cast<float>(w / sum);
    }
  }
  return weight;
}

void TrainingData::cache_smoothed_windows(std::int32_t lookback) {
  cached_lookback_ = 0;
  cached_weights_.clear();
  smoothed_ = smoothed_window_table(*this, lookback);
  cached_weights_ = smoothing_weights(lookback);
  cached_lookback_ = lookback;
}

void TrainingData::check_window(std::int32_t target_day, std::int32_t lookback) const {
  if (target_day - lookback < 0 || target_day >= days_) {
    throw DataError("window target day " + std::to_string(target_day) + " is out of range");
  }
}

double TrainingData::mean_label(std::int32_t days) const {
  const std::size_t n = static_cast<std::size_t>(std::min(days, days_)) * nodes_;
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += label_[i];
  return n ? sum / static_cast<double>(n) : 0.0;
}

}  // namespace crimegraph
