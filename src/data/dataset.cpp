#include "crimegraph/data/dataset.hpp"

#include <cmath>
#include <type_traits>

#include <algorithm>

#include "crimegraph/error.hpp"

namespace crimegraph {

std::int32_t CrimeDataset::channel_index(const std::string& channel) const {
  const auto it = std::find(channels.begin(), channels.end(), channel);
  if (it == channels.end()) throw DataError("dataset has no channel '" + channel + "'");
  return static_cast<std::int32_t>(it - channels.begin());
}

namespace {

// "[3][17][2]" for flat index i of an array of the given shape.
std::string index_text(std::size_t i, const std::vector<std::size_t>& shape) {
  std::vector<std::size_t> at(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    at[k] = shape[k] ? i % shape[k] : 0;
    i = shape[k] ? i / shape[k] : 0;
  }
  std::string out;
  for (auto a : at) out += "[" + std::to_string(a) + "]";
  return out;
}

template <class T>
void check_values(const char* object, const std::vector<T>& values, const std::vector<std::size_t>& shape,
                  const char* expected) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto v = values[i];
    if (!(v >= 0) || (std::is_floating_point_v<T> && !std::isfinite(static_cast<double>(v)))) {
      throw DataError(std::string("dataset: ") + object + index_text(i, shape) + " is " + std::to_string(v) +
                      ", not " + expected);
    }
  }
}

}  // namespace

void CrimeDataset::validate() const {
  graph.validate();
  const std::size_t d = static_cast<std::size_t>(days()), n = static_cast<std::size_t>(nodes());
  auto expect = [](const char* what, std::size_t got, std::size_t want) {
    if (got != want) {
      throw DataError(std::string("dataset: ") + what + " has " + std::to_string(got) + " values, expected " +
                      std::to_string(want));
    }
  };
  if (channels.empty()) throw DataError("dataset: no feature channels");
  if (categories.empty() && !counts.empty()) throw DataError("dataset: counts without event categories");
  expect("features", features.size(), d * n * channels.size());
  expect("label", label.size(), d * n);
  expect("counts", counts.size(), d * n * categories.size());
  if (!intensity.empty()) expect("intensity", intensity.size(), d * n);
  for (std::size_t i = 1; i < d; ++i) {
    if (day_number[i] != day_number[i - 1] + 1) {
      throw DataError("dataset: the calendar is not a run of consecutive days at position " + std::to_string(i));
    }
  }
  // One pass over the values: a NaN or negative count would train a model that scores nothing.
  check_values("tensor/features", features, {d, n, channels.size()}, "a finite non-negative number");
  check_values("tensor/label", label, {d, n}, "a non-negative count");
  check_values("tensor/counts", counts, {d, n, categories.size()}, "a non-negative count");
  check_values("truth/intensity", intensity, {d, n}, "a finite non-negative number");
}

std::vector<float> smooth_counts(const std::vector<std::int32_t>& counts, std::int32_t days, std::int32_t nodes,
                                 std::int32_t categories, double alpha) {
  std::vector<float> out(counts.size());
  smooth_counts_into(counts.data(), days, nodes, categories, alpha, out.data());
  return out;
}

void smooth_counts_into(const std::int32_t* counts, std::int32_t days, std::int32_t nodes, std::int32_t categories,
                        double alpha, float* out) {
  if (!(alpha > 0.0 && alpha <= 1.0)) throw ConfigError("smoothing factor must be in (0, 1]");
  const std::size_t row = static_cast<std::size_t>(nodes) * categories;
  std::vector<double> state(row, 0.0);
  for (std::int32_t t = 0; t < days; ++t) {
    const std::size_t base = static_cast<std::size_t>(t) * row;
    for (std::size_t k = 0; k < row; ++k) {
      state[k] = alpha * counts[base + k] + (1.0 - alpha) * state[k];
      out[base + k] = static_cast<float>(state[k]);
    }
  }
}

bool channels_are_smoothed_counts(const std::vector<std::string>& channels, const std::vector<std::string>& categories) {
  bool same = !categories.empty() && channels.size() == categories.size();
  for (std::size_t i = 0; same && i < channels.size(); ++i) same = channels[i] == categories[i] + "Smoothed";
  return same;
}

void check_channels_are_smoothed_counts(const std::vector<std::string>& channels,
                                        const std::vector<std::string>& categories, const std::string& what) {
  if (categories.empty()) {
    throw DataError(what + " has no daily counts to smooth its channels from: prepare it with crimegraph-prepare, "
                    "which keeps them");
  }
  if (!channels_are_smoothed_counts(channels, categories)) {
    const auto list = [](const std::vector<std::string>& names) {
      std::string s;
      for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
      return s;
    };
    throw DataError(what + "'s channels (" + list(channels) + ") are not the smoothed counts of its categories (" +
                    list(categories) + "), so they cannot be recomputed with another smoothing factor");
  }
}

std::vector<std::int32_t> label_from_counts(const std::vector<std::int32_t>& counts, std::int32_t days,
                                            std::int32_t nodes, const std::vector<std::string>& categories) {
  const auto it = std::find(categories.begin(), categories.end(), kLabelCategory);
  if (it == categories.end()) throw DataError(std::string("no '") + kLabelCategory + "' category to label from");
  const auto c = static_cast<std::size_t>(it - categories.begin());
  const std::size_t k = categories.size();
  std::vector<std::int32_t> label(static_cast<std::size_t>(days) * nodes);
  for (std::size_t i = 0; i < label.size(); ++i) label[i] = counts[i * k + c];
  return label;
}

}  // namespace crimegraph
