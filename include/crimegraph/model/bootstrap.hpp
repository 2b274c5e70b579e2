#pragma once
// Confidence intervals for hit rates: a moving-block bootstrap over days. A hit rate is a ratio
// of sums over days (day-mean: the mean of daily fractions; event-weighted: events hit over
// events), and neighbouring days are correlated (crime clusters in time), so whole blocks of
// consecutive days are resampled, a week by default, wrapping around the end. The seed is
// fixed, so the same days always give the same interval.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace crimegraph {

/// One day's part of a hit rate: the rate is sum(hits) / sum(weight) over days. A day without
/// events has weight 0.
struct DayScore {
  double hits = 0.0;
  double weight = 0.0;
};

struct Interval {
  double low = std::nan("");
  double high = std::nan("");
  bool known() const { return std::isfinite(low) && std::isfinite(high); }
  bool contains(double x) const { return low <= x && x <= high; }
};
/// "[0.612, 0.655]", or "" when unknown.
std::string describe(const Interval& interval);

struct BootstrapOptions {
  std::int32_t block_days = 7;
  std::int32_t replicates = 2000;
  std::uint64_t seed = 20201118;  ///< fixed: the same days give the same interval
  double level = 0.95;
};

/// sum(hits) / sum(weight), NaN without weight.
double rate_of(const std::vector<DayScore>& days);
/// The percentile interval of the rate over block-bootstrap resamples of the days.
Interval bootstrap_interval(const std::vector<DayScore>& days, const BootstrapOptions& options = {});
/// The interval of rate(a) - rate(b), resampling the same days for both (a paired comparison:
/// two rankings scored on the same days). `a` and `b` must cover the same days.
Interval paired_difference_interval(const std::vector<DayScore>& a, const std::vector<DayScore>& b,
                                    const BootstrapOptions& options = {});

}  // namespace crimegraph
