#include "crimegraph/data/windows.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "crimegraph/error.hpp"

namespace crimegraph {

const char* split_name(Split split) {
  switch (split) {
    case Split::Train: return "train";
    case Split::Validation: return "validation";
    case Split::Test: return "test";
  }
  return "?";
}

WindowIndex::WindowIndex(std::int32_t days, std::int32_t lookback, SplitFractions fr)
    : days_(days), lookback_(lookback) {
  if (days <= 0) throw ConfigError("the dataset must have at least one day (got " + std::to_string(days) + ")");
  if (lookback < 1) throw ConfigError("lookback must be at least 1 day (got " + std::to_string(lookback) + ")");
  if (lookback >= days) {
    throw ConfigError("lookback (" + std::to_string(lookback) + " days) must be shorter than the dataset (" +
                      std::to_string(days) + " days)");
  }
  if (!(fr.train > 0 && fr.validation > 0 && fr.train + fr.validation < 1.0)) {
    throw ConfigError("split fractions must be positive and leave days for the test split");
  }
  // floor() of each leading split, the test split takes the remainder: with 3232 days this
  // gives 2262/484/486 days and so 2248/470/472 windows at lookback 14, as the original study.
  const auto train_days = static_cast<std::int32_t>(std::floor(fr.train * days));
  const auto val_days = static_cast<std::int32_t>(std::floor(fr.validation * days));
  ranges_[0] = {0, train_days};
  ranges_[1] = {train_days, train_days + val_days};
  ranges_[2] = {train_days + val_days, days};
}

std::int32_t WindowIndex::count(Split split) const { return std::max(0, days_of(split).size() - lookback_); }

std::int32_t WindowIndex::target_day(Split split, std::int32_t i) const {
  if (i < 0 || i >= count(split)) {
    throw ConfigError(std::string("window ") + std::to_string(i) + " out of range for the " + split_name(split) +
                      " split");
  }
  return days_of(split).first + lookback_ + i;
}

std::vector<std::int32_t> WindowIndex::target_days(Split split) const {
  std::vector<std::int32_t> out(static_cast<std::size_t>(count(split)));
  for (std::int32_t i = 0; i < count(split); ++i) out[static_cast<std::size_t>(i)] = days_of(split).first + lookback_ + i;
  return out;
}

BatchIterator::BatchIterator(const WindowIndex& index, Split split, std::int32_t batch_size, std::uint64_t seed,
                             bool shuffle)
    : all_days_(index.target_days(split)), days_(all_days_), batch_size_(batch_size), seed_(seed), shuffle_(shuffle) {
  if (batch_size < 1) throw ConfigError("batch size must be at least 1 (got " + std::to_string(batch_size) + ")");
  start_epoch(0);
}

void BatchIterator::start_epoch(std::int32_t epoch) {
  days_ = all_days_;
  if (shuffle_) {
    // A portable Fisher-Yates with a generator seeded from (seed, epoch): std::shuffle's
    // use of the generator is implementation-defined, this is not.
    std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(epoch) + 1);
    for (std::size_t i = days_.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(rng() % i);
      std::swap(days_[i - 1], days_[j]);
    }
  }
  pos_ = 0;
}

bool BatchIterator::next(std::vector<std::int32_t>& target_days) {
  if (pos_ >= days_.size()) return false;
  const std::size_t end = std::min(days_.size(), pos_ + static_cast<std::size_t>(batch_size_));
  target_days.assign(days_.begin() + static_cast<std::ptrdiff_t>(pos_), days_.begin() + static_cast<std::ptrdiff_t>(end));
  pos_ = end;
  return true;
}

std::int32_t BatchIterator::batches_per_epoch() const {
  return static_cast<std::int32_t>((days_.size() + static_cast<std::size_t>(batch_size_) - 1) / batch_size_);
}

}  // namespace crimegraph
