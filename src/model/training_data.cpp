#include "crimegraph/model/training_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "crimegraph/error.hpp"
#include "crimegraph/model/gldnet_kernel.hpp"

namespace crimegraph {

namespace {

// Long exponential decays in the smoothed channels leave subnormal values (down to 1e-45;
// 4% of the synthetic city's inputs). As counts they mean nothing, and any code that reads
// them without flush-to-zero set pays a microcode assist per multiply; the kernel treats
// them as zeros anyway (denormals-are-zero), so they become zeros here.
void flush_subnormals(float* begin, float* end) {
  std::transform(begin, end, begin, [](float v) { return std::fpclassify(v) == FP_SUBNORMAL ? 0.0f : v; });
}

}  // namespace

TrainingData::TrainingData(const CrimeDataset& ds, double smoothing)
    : days_(ds.days()),
      nodes_(ds.nodes()),
      channels_(ds.channel_count()),
      smoothing_(smoothing),
      adjacency_(sparse_adjacency(ds.graph, AdjacencyNorm::Row)),
      lengths_(ds.graph.length_m) {
  own_features_.resize(ds.features.size());
  if (smoothing != 0.0) {
    check_channels_are_smoothed_counts(ds.channels, ds.categories, "the dataset");
    smooth_counts_into(ds.counts.data(), days_, nodes_, channels_, smoothing, own_features_.data());
    flush_subnormals(own_features_.data(), own_features_.data() + own_features_.size());
  } else {
    prepare_features(ds, own_features_.data());
  }
  own_label_.resize(ds.label.size());
  prepare_label(ds, own_label_.data());
  if (counts_usable(ds)) own_counts_ = ds.counts;
  features_ = own_features_.data();
  label_ = own_label_.data();
  counts_ = own_counts_.empty() ? nullptr : own_counts_.data();
}

TrainingData::TrainingData(std::shared_ptr<const TrainingData> base, double smoothing)
    : days_(base->days_),
      nodes_(base->nodes_),
      channels_(base->channels_),
      label_(base->label_),
      counts_(base->counts_),
      adjacency_(base->adjacency_),
      lengths_(base->lengths_) {
  borrowed_arrays_ = std::move(base);  // the label and counts are the base's
  recompute_channels(smoothing);
}

void TrainingData::recompute_channels(double smoothing) {
  if (smoothing == 0.0) throw Error("the channels as prepared are not kept beside recomputed ones");
  if (!counts_) throw DataError("the training data keeps no daily counts to recompute its channels from");
  own_features_.resize(static_cast<std::size_t>(days_) * nodes_ * channels_);
  smooth_counts_into(counts_, days_, nodes_, channels_, smoothing, own_features_.data());
  flush_subnormals(own_features_.data(), own_features_.data() + own_features_.size());
  features_ = own_features_.data();
  smoothing_ = smoothing;
  cached_lookback_ = 0;
  smoothed_ = nullptr;
  cached_weights_.clear();
  std::vector<float>().swap(own_smoothed_);  // frees the table's memory
  borrowed_smoothed_.reset();
}

std::shared_ptr<const TrainingData> TrainingData::with_smoothing(std::shared_ptr<const TrainingData> data,
                                                                 double smoothing) {
  if (smoothing == data->smoothing_) return data;
  return resmoothed(std::move(data), smoothing);
}

std::shared_ptr<TrainingData> TrainingData::resmoothed(std::shared_ptr<const TrainingData> data, double smoothing) {
  return std::shared_ptr<TrainingData>(new TrainingData(std::move(data), smoothing));
}

bool TrainingData::counts_usable(const CrimeDataset& ds) {
  return !ds.counts.empty() && channels_are_smoothed_counts(ds.channels, ds.categories);
}

TrainingData::TrainingData(const StreetGraph& graph, std::int32_t days, std::int32_t channels, BorrowedArrays arrays)
    : days_(days),
      nodes_(graph.node_count()),
      channels_(channels),
      features_(arrays.features),
      label_(arrays.label),
      counts_(arrays.counts),
      borrowed_arrays_(std::move(arrays.keep_alive)),
      adjacency_(sparse_adjacency(graph, AdjacencyNorm::Row)),
      lengths_(graph.length_m) {
  if (!features_ || !label_) throw Error("borrowed training arrays are missing");
}

void TrainingData::prepare_features(const CrimeDataset& ds, float* out) {
  std::copy(ds.features.begin(), ds.features.end(), out);
  flush_subnormals(out, out + ds.features.size());
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
