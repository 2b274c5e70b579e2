#pragma once
// A prepared crime dataset in memory: the street graph plus a daily [days x nodes x channels]
// tensor, the violent label, raw counts per category and provenance.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crimegraph/data/street_graph.hpp"

namespace crimegraph {

/// The original study's categories, in channel order.
inline const std::vector<std::string> kDefaultCategories = {"Arrest", "Property", "Violent"};
inline const std::vector<std::string> kDefaultChannels = {"ArrestSmoothed", "PropertySmoothed", "ViolentSmoothed"};
inline constexpr const char* kLabelCategory = "Violent";

struct CrimeDataset {
  StreetGraph graph;
  std::vector<std::string> channels = kDefaultChannels;      ///< feature channel names
  std::vector<std::string> categories = kDefaultCategories;  ///< raw count categories
  std::vector<std::int32_t> day_number;                      ///< calendar day of each day (days since 1970-01-01)

  std::vector<float> features;        ///< [days][nodes][channels], smoothed counts
  std::vector<std::int32_t> label;    ///< [days][nodes], raw violent count of that day
  std::vector<std::int32_t> counts;   ///< [days][nodes][categories], raw counts
  std::vector<float> intensity;       ///< [days][nodes], true violent intensity; synthetic data only, else empty

  std::map<std::string, std::string> provenance;  ///< who, from what, with which parameters

  std::int32_t days() const { return static_cast<std::int32_t>(day_number.size()); }
  std::int32_t nodes() const { return graph.node_count(); }
  std::int32_t channel_count() const { return static_cast<std::int32_t>(channels.size()); }
  std::int32_t category_count() const { return static_cast<std::int32_t>(categories.size()); }
  bool has_intensity() const { return !intensity.empty(); }

  /// Index of a channel by name; throws DataError when absent.
  std::int32_t channel_index(const std::string& channel) const;
  /// The day-t slice of the feature tensor: nodes x channels floats.
  const float* features_of_day(std::int32_t day) const {
    return features.data() + static_cast<std::size_t>(day) * nodes() * channel_count();
  }
  /// Throws DataError when any array disagrees with days/nodes/channels, or the calendar has gaps.
  void validate() const;
};

/// Exponential moving average over every calendar day, per node and category:
/// s[t] = alpha * x[t] + (1 - alpha) * s[t-1], s[-1] = 0. `counts` is [days][nodes][categories].
std::vector<float> smooth_counts(const std::vector<std::int32_t>& counts, std::int32_t days, std::int32_t nodes,
                                 std::int32_t categories, double alpha);

/// smooth_counts into `out` (as many values as `counts`), from arrays held elsewhere.
void smooth_counts_into(const std::int32_t* counts, std::int32_t days, std::int32_t nodes, std::int32_t categories,
                        double alpha, float* out);

/// Whether the feature channels are the categories' smoothed counts, in order, as
/// crimegraph-prepare makes them ("Violent" -> "ViolentSmoothed"): only then can the channels be
/// recomputed from the counts with another smoothing factor.
bool channels_are_smoothed_counts(const std::vector<std::string>& channels, const std::vector<std::string>& categories);
/// Throws DataError, saying why, unless they are. `what` names the dataset.
void check_channels_are_smoothed_counts(const std::vector<std::string>& channels,
                                        const std::vector<std::string>& categories, const std::string& what);

/// Fills `label` from the "Violent" category of `counts`.
std::vector<std::int32_t> label_from_counts(const std::vector<std::int32_t>& counts, std::int32_t days,
                                            std::int32_t nodes, const std::vector<std::string>& categories);

}  // namespace crimegraph
