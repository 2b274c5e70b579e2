#pragma once
// What training reads, prepared once and shared by every trial: the feature tensor, the label
// as float, the row-normalised sparse adjacency and, for a search, every window's smoothed
// inputs. The large arrays are its own, or memory it borrows: a search's workers read one copy
// per node, in memory the node's ranks share (crimegraph/cluster/node_data.hpp).
#include <cstdint>
#include <memory>
#include <vector>

#include "crimegraph/data/dataset.hpp"
#include "crimegraph/data/street_graph.hpp"

namespace crimegraph {

class TrainingData {
 public:
  /// The dataset's feature channels as prepared (smoothing 0), or recomputed from its daily
  /// counts with this exponential smoothing factor in (0, 1], exactly as crimegraph-prepare
  /// --smoothing makes them. Keeps the counts when the dataset has them and its channels are
  /// their smoothed counts, so that with_smoothing can recompute the channels again.
  explicit TrainingData(const CrimeDataset& dataset, double smoothing = 0.0);

  /// The large arrays, prepared by prepare_features and prepare_label, in memory that
  /// `keep_alive` holds for as long as this object needs them.
  struct BorrowedArrays {
    const float* features = nullptr;  ///< [day][node][channel]
    const float* label = nullptr;     ///< [day][node]
    /// [day][node][category], the raw daily counts whose smoothed values the channels are
    /// (channel c is category c), or null
    const std::int32_t* counts = nullptr;
    std::shared_ptr<const void> keep_alive;
  };
  /// Reads `arrays` in place; `graph`, `days` and `channels` must be the dataset's.
  TrainingData(const StreetGraph& graph, std::int32_t days, std::int32_t channels, BorrowedArrays arrays);
  /// What the constructor from a dataset keeps: the features with subnormals as zeros, and the
  /// label as float, into `out` (as many values as the dataset's arrays).
  static void prepare_features(const CrimeDataset& dataset, float* out);
  static void prepare_label(const CrimeDataset& dataset, float* out);
  /// Whether the dataset's counts can be kept for with_smoothing (see the constructor).
  static bool counts_usable(const CrimeDataset& dataset);

  /// `data` with its feature channels recomputed from its daily counts with smoothing factor
  /// `smoothing` in (0, 1] (0: as prepared, which `data` must then be). It shares the label and
  /// counts, owns its channels (days x nodes x channels floats) and has no smoothed-window
  /// table. Returns `data` itself when it already has this smoothing. Throws DataError when
  /// `data` keeps no counts.
  static std::shared_ptr<const TrainingData> with_smoothing(std::shared_ptr<const TrainingData> data, double smoothing);
  /// A new copy of `data` (which must keep counts) with its channels recomputed, always.
  static std::shared_ptr<TrainingData> resmoothed(std::shared_ptr<const TrainingData> data, double smoothing);
  /// Recomputes the channels from the kept counts with another factor, into this object's own
  /// memory (reused when it has some: fresh memory costs more in page faults than the
  /// smoothing itself); drops the table of smoothed windows, which no longer matches.
  void recompute_channels(double smoothing);
  /// The smoothing factor the channels were recomputed with; 0: as the dataset was prepared.
  double smoothing() const { return smoothing_; }
  bool has_counts() const { return counts_ != nullptr; }
  /// Bytes of the channels (days x nodes x channels floats), as many as of the daily counts:
  /// what a recomputed copy takes.
  std::size_t channel_bytes() const { return channel_bytes(days_, nodes_, channels_); }
  static std::size_t channel_bytes(std::int32_t days, std::int32_t nodes, std::int32_t channels) {
    return static_cast<std::size_t>(days) * static_cast<std::size_t>(nodes) * static_cast<std::size_t>(channels) *
           sizeof(float);
  }

  std::int32_t days() const { return days_; }
  std::int32_t nodes() const { return nodes_; }
  std::int32_t channels() const { return channels_; }
  const SparseAdjacency& adjacency() const { return adjacency_; }
  const std::vector<double>& lengths() const { return lengths_; }

  /// GLDNet's temporal input is a set of exponentially smoothed summaries of each window:
  /// scale s is the weighted mean of the L days with weight gamma_s^(days back), gamma in
  /// kSmoothingGammas, from the last day alone (gamma 0) to the plain mean (gamma 1), so every
  /// day of the window reaches the model. Returns the [scale][day] weights, day 0 the oldest.
  static constexpr int kSmoothingScales = 4;
  static constexpr float kSmoothingGammas[kSmoothingScales] = {0.0f, 0.5f, 0.8f, 1.0f};
  static std::vector<float> smoothing_weights(std::int32_t lookback);
  std::int32_t smoothed_width() const { return kSmoothingScales * channels_; }
  /// Days t-L .. t-1 of the window of target day t: L x nodes x channels contiguous floats.
  const float* window_begin(std::int32_t target_day, std::int32_t lookback) const {
    check_window(target_day, lookback);
    return features_ + static_cast<std::size_t>(target_day - lookback) * nodes_ * channels_;
  }
  /// Keeps every window's smoothed summaries for this lookback, [target day][node][scale x
  /// channel], computed once by the kernel's own smoothing, so that loading a group of windows
  /// reads a quarter of the bytes (raw days are the bottleneck: memory bandwidth). Costs
  /// days x nodes x smoothed_width floats (183 MB for the original city): the search's workers
  /// take it, as they train hundreds of trials on the same windows; one training run does not.
  void cache_smoothed_windows(std::int32_t lookback);
  /// Rows [first_day, last_day) of that table, into `table` (the whole table's memory): rows
  /// of days without a whole window are zeros. Rows are independent, so ranks can share the work.
  void smooth_windows_into(std::int32_t lookback, std::int32_t first_day, std::int32_t last_day, float* table) const;
  /// Reads a table made by smooth_windows_into in place; `keep_alive` holds its memory.
  void use_smoothed_windows(std::int32_t lookback, const float* table, std::shared_ptr<const void> keep_alive);
  /// What cache_smoothed_windows would take, in bytes, before it is made.
  std::size_t smoothed_table_bytes() const { return smoothed_table_bytes(days_, nodes_, channels_); }
  /// The same for a dataset of this shape, before any TrainingData is made of it.
  static std::size_t smoothed_table_bytes(std::int32_t days, std::int32_t nodes, std::int32_t channels) {
    return static_cast<std::size_t>(days) * static_cast<std::size_t>(nodes) *
           static_cast<std::size_t>(kSmoothingScales * channels) * sizeof(float);
  }
  /// Window t's cached summaries (nodes x smoothed_width floats), or null when the cache was
  /// not made for this lookback. Throws DataError as window_begin does.
  const float* cached_smoothed_window(std::int32_t target_day, std::int32_t lookback) const {
    check_window(target_day, lookback);
    if (lookback != cached_lookback_) return nullptr;
    return smoothed_ + static_cast<std::size_t>(target_day) * nodes_ * smoothed_width();
  }
  /// The smoothing weights the cache was made with (empty: no cache).
  const std::vector<float>& cached_smoothing_weights() const { return cached_weights_; }
  std::size_t cached_bytes() const { return smoothed_ ? smoothed_table_bytes() : 0; }
  /// Throws DataError unless days t-L .. t exist.
  void check_window(std::int32_t target_day, std::int32_t lookback) const;
  /// Mean label over the first `days` days: the prior event rate.
  double mean_label(std::int32_t days) const;
  /// The label of one day, [node].
  const float* label_of_day(std::int32_t day) const { return label_ + static_cast<std::size_t>(day) * nodes_; }
  /// The whole feature tensor, [day][node][channel].
  const float* features() const { return features_; }

 private:
  TrainingData(std::shared_ptr<const TrainingData> base, double smoothing);

  std::int32_t days_, nodes_, channels_;
  const float* features_ = nullptr;  // [day][node][channel], as in the dataset
  const float* label_ = nullptr;     // [day][node]
  const std::int32_t* counts_ = nullptr;  // [day][node][channel], or null
  double smoothing_ = 0.0;
  std::int32_t cached_lookback_ = 0;  // 0: no cache
  const float* smoothed_ = nullptr;   // [target day][node][scale x channel]
  std::vector<float> cached_weights_;
  // The memory behind the pointers: this object's own, or what holds borrowed memory.
  std::vector<float> own_features_, own_label_, own_smoothed_;
  std::vector<std::int32_t> own_counts_;
  std::shared_ptr<const void> borrowed_arrays_, borrowed_smoothed_;
  SparseAdjacency adjacency_;
  std::vector<double> lengths_;
};

}  // namespace crimegraph
