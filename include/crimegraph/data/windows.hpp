#pragma once
// Stride-1 sliding windows over the daily tensor, computed on demand. A window with target
// day t has input days t-L .. t-1 and the label of day t. Days are split chronologically
// (70/15/15 by default) and no window crosses a split boundary.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace crimegraph {

enum class Split { Train = 0, Validation = 1, Test = 2 };
const char* split_name(Split split);

/// A half-open range of days [first, end).
struct DayRange {
  std::int32_t first = 0;
  std::int32_t end = 0;
  std::int32_t size() const { return end - first; }
};

struct SplitFractions {
  double train = 0.70;
  double validation = 0.15;  ///< the test split takes the remaining days
};

class WindowIndex {
 public:
  /// Throws ConfigError when days <= 0, lookback < 1, lookback >= days, or the fractions
  /// are not in (0, 1) with train + validation < 1.
  WindowIndex(std::int32_t days, std::int32_t lookback, SplitFractions fractions = {});

  std::int32_t days() const { return days_; }
  std::int32_t lookback() const { return lookback_; }
  /// The days of a split: train = [0, floor(0.70 D)), validation the next floor(0.15 D), test the rest.
  DayRange days_of(Split split) const { return ranges_[static_cast<int>(split)]; }
  /// Number of windows in a split: max(0, split days - lookback).
  std::int32_t count(Split split) const;
  /// Target day of window i of a split (0 <= i < count(split)).
  std::int32_t target_day(Split split, std::int32_t i) const;
  /// All target days of a split, in order.
  std::vector<std::int32_t> target_days(Split split) const;

 private:
  std::int32_t days_;
  std::int32_t lookback_;
  std::array<DayRange, 3> ranges_;
};

/// Batches of window target days over one split, reshuffled every epoch. The order of epoch e
/// depends only on (seed, e), so a run resumed at epoch e sees the same batches.
class BatchIterator {
 public:
  BatchIterator(const WindowIndex& index, Split split, std::int32_t batch_size, std::uint64_t seed,
                bool shuffle = true);

  /// Rewinds to the start of `epoch` (0-based) with that epoch's order.
  void start_epoch(std::int32_t epoch);
  /// Fills `target_days` with the next batch (the last may be short); false at the end of the epoch.
  bool next(std::vector<std::int32_t>& target_days);
  std::int32_t batches_per_epoch() const;
  std::int32_t windows() const { return static_cast<std::int32_t>(days_.size()); }

 private:
  std::vector<std::int32_t> all_days_;
  std::vector<std::int32_t> days_;
  std::int32_t batch_size_;
  std::uint64_t seed_;
  bool shuffle_;
  std::size_t pos_ = 0;
};

}  // namespace crimegraph
