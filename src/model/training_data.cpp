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
  own_features_.resize(ds.features.size());
  own_label_.resize(ds.label.size());
  prepare_features(ds, own_features_.data());
  prepare_label(ds, own_label_.data());
  features_ = own_features_.data();
  label_ = own_label_.data();
}

TrainingData::TrainingData(const StreetGraph& graph, std::int32_t days, std::int32_t channels, BorrowedArrays arrays)
    : days_(days),
      nodes_(graph.node_count()),
      channels_(channels),
      features_(arrays.features),
      label_(arrays.label),
      borrowed_arrays_(std::move(arrays.keep_alive)),
      adjacency_(sparse_adjacency(graph, AdjacencyNorm::Row)),
      lengths_(graph.length_m) {
  if (!features_ || !label_) throw Error("borrowed training arrays are missing");
}

void TrainingData::prepare_features(const CrimeDataset& ds, float* out) {
  // Long exponential decays in the smoothed channels leave subnormal values (down to 1e-45;
  // 4% of the synthetic city's inputs). As counts they mean nothing, and any code that reads
  // them without flush-to-zero set pays a microcode assist per multiply; the kernel treats
  // them as zeros anyway (denormals-are-zero), so they become zeros here.
  std::transform(ds.features.begin(), ds.features.end(), out,
                 [](float v) { return std::fpclassify(v) == FP_SUBNORMAL ? 0.0f : v; });
}

void TrainingData::prepare_label(const CrimeDataset& ds, float* out) {
  std::transform(ds.label.begin(), ds.label.end(), out, [](std::int32_t v) { return static_cast<float>(v); });
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
  std::vector<float> table(smoothed_table_bytes() / sizeof(float));
  smooth_windows_into(lookback, 0, days_, table.data());
  own_smoothed_ = std::move(table);
  borrowed_smoothed_.reset();
  smoothed_ = own_smoothed_.data();
  cached_weights_ = smoothing_weights(lookback);
  cached_lookback_ = lookback;
}

void TrainingData::smooth_windows_into(std::int32_t lookback, std::int32_t first_day, std::int32_t last_day,
                                       float* table) const {
  smooth_window_rows(*this, lookback, std::max(first_day, 0), std::min(last_day, days_), table);
}

void TrainingData::use_smoothed_windows(std::int32_t lookback, const float* table, std::shared_ptr<const void> keep_alive) {
  cached_weights_ = smoothing_weights(lookback);  // validates the lookback first
  borrowed_smoothed_ = std::move(keep_alive);
  own_smoothed_.clear();
  smoothed_ = table;
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
