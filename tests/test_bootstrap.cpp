#include <gtest/gtest.h>

#include <random>

#include "crimegraph/error.hpp"
#include "crimegraph/model/bootstrap.hpp"
#include "crimegraph/model/hit_rate.hpp"

using namespace crimegraph;

namespace {

// 470 test days whose daily hit fractions are correlated from day to day (an AR(1) process
// around `truth`, coefficient 0.3), as real days are: resampling single days would make the
// intervals too narrow. (With a coefficient of 0.6, weekly blocks cover about 87%: they miss
// the correlation that lasts beyond a week.)
std::vector<DayScore> correlated_days(double truth, std::mt19937_64& rng, std::size_t n = 470) {
  std::normal_distribution<double> noise(0.0, 0.12);
  std::vector<DayScore> days;
  double deviation = 0.0;
  for (std::size_t d = 0; d < n; ++d) {
    deviation = 0.3 * deviation + noise(rng);
    days.push_back({truth + deviation, 1.0});
  }
  return days;
}

}  // namespace

// Where the true hit rate is known, its 95% intervals cover it close to 95% of the time.
TEST(Bootstrap, IntervalsCoverTheTruthAtCloseToTheNominalRate) {
  std::mt19937_64 rng(11);
  BootstrapOptions o;
  o.replicates = 500;
  int covered = 0;
  const int trials = 300;
  for (int t = 0; t < trials; ++t) {
    o.seed = static_cast<std::uint64_t>(t);
    if (bootstrap_interval(correlated_days(0.45, rng), o).contains(0.45)) ++covered;
  }
  const double rate = static_cast<double>(covered) / trials;
  EXPECT_GT(rate, 0.91) << rate;
  EXPECT_LT(rate, 0.985) << rate;
}

TEST(Bootstrap, SameDaysSameIntervalAndWeightlessDaysCountNothing) {
  std::mt19937_64 rng(3);
  auto days = correlated_days(0.5, rng, 100);
  const auto a = bootstrap_interval(days), b = bootstrap_interval(days);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  EXPECT_LT(a.low, rate_of(days));
  EXPECT_GT(a.high, rate_of(days));
  EXPECT_FALSE(bootstrap_interval({}).known());
  std::vector<DayScore> empty_days(50);  // no day had an event
  EXPECT_FALSE(bootstrap_interval(empty_days).known());
}

// The gain of one ranking over another on the same days: no gain has an interval of exactly
// zero, a steady gain one that excludes zero, though each rate alone varies far more.
TEST(Bootstrap, PairedDifferencesResampleTheSameDays) {
  std::mt19937_64 rng(5);
  const auto base = correlated_days(0.40, rng);
  auto better = base;
  for (auto& d : better) d.hits += 0.02;
  const auto none = paired_difference_interval(base, base);
  EXPECT_EQ(none.low, 0.0);
  EXPECT_EQ(none.high, 0.0);
  const auto gain = paired_difference_interval(better, base);
  EXPECT_NEAR(gain.low, 0.02, 1e-9);
  EXPECT_NEAR(gain.high, 0.02, 1e-9);
  const auto alone = bootstrap_interval(base);
  EXPECT_GT(alone.high - alone.low, 0.02);  // unpaired intervals would overlap
  EXPECT_THROW(paired_difference_interval(base, correlated_days(0.4, rng, 10)), Error);
}

// HitRate records what it sums, so its interval is of the value it reports.
TEST(Bootstrap, AHitRateRecordsItsDays) {
  HitRate hit(HitRateOptions{0.5, HitRateKind::DayMean});
  const float scores[4] = {4, 3, 2, 1};
  const float labels_a[4] = {1, 0, 0, 1};  // 1 of 2 event nodes in the top half
  const float labels_b[4] = {0, 0, 0, 0};  // no events: weighs nothing
  const float labels_c[4] = {1, 1, 0, 0};  // 2 of 2
  hit.add_day(scores, labels_a, 4);
  hit.add_day(scores, labels_b, 4);
  hit.add_day(scores, labels_c, 4);
  ASSERT_EQ(hit.days().size(), 3u);
  EXPECT_DOUBLE_EQ(rate_of(hit.days()), hit.value());
  EXPECT_DOUBLE_EQ(hit.value(), 0.75);
  EXPECT_EQ(hit.days()[1].weight, 0.0);
  const auto i = hit.interval();
  EXPECT_GE(i.low, 0.5);
  EXPECT_LE(i.high, 1.0);
}
