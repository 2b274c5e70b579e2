#include <gtest/gtest.h>

#include <cmath>

#include "crimegraph/error.hpp"
#include "crimegraph/model/hit_rate.hpp"

using namespace crimegraph;

namespace {
double one_day(const std::vector<float>& scores, const std::vector<std::int32_t>& labels, HitRateOptions o = {},
               std::vector<double> lengths = {}) {
  HitRate h(o, lengths);
  h.add_day(scores.data(), labels.data(), static_cast<std::int32_t>(scores.size()));
  return h.value();
}
}  // namespace

TEST(HitRate, TopTwentyPercent) {
  // 10 nodes, k = 2: nodes 0 and 1 flagged; events at 0 and 5.
  const std::vector<float> s = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f};
  EXPECT_DOUBLE_EQ(one_day(s, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0}), 0.5);
  EXPECT_DOUBLE_EQ(one_day(s, {2, 1, 0, 0, 0, 0, 0, 0, 0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(one_day(s, {0, 0, 0, 0, 0, 0, 0, 0, 0, 4}), 0.0);
}

TEST(HitRate, TiesAtTheCutShareTheRemainingSlots) {
  // k = 2: node 0 is in; nodes 1-3 tie for the last slot, each counts 1/3.
  const std::vector<float> s = {1.0f, 0.5f, 0.5f, 0.5f, 0, 0, 0, 0, 0, 0};
  EXPECT_NEAR(one_day(s, {0, 1, 0, 0, 0, 0, 0, 0, 0, 0}), 1.0 / 3, 1e-12);
  EXPECT_NEAR(one_day(s, {1, 1, 0, 0, 0, 0, 0, 0, 0, 0}), (1.0 + 1.0 / 3) / 2, 1e-12);
  // A constant predictor scores exactly the coverage.
  const std::vector<float> flat(10, 0.3f);
  EXPECT_NEAR(one_day(flat, {1, 0, 0, 1, 0, 0, 0, 0, 0, 1}), 0.2, 1e-12);
}

TEST(HitRate, DaysWithoutEventsAreSkipped) {
  HitRate h({});
  const std::vector<float> s = {0.9f, 0.1f, 0.2f, 0.3f, 0.4f};  // k = 1
  const std::vector<std::int32_t> none(5, 0), first = {1, 0, 0, 0, 0}, last = {0, 0, 0, 0, 1};
  h.add_day(s.data(), none.data(), 5);
  EXPECT_EQ(h.value(), 0.0);
  EXPECT_FALSE(std::isnan(h.value()));
  h.add_day(s.data(), first.data(), 5);
  h.add_day(s.data(), none.data(), 5);
  h.add_day(s.data(), last.data(), 5);
  EXPECT_DOUBLE_EQ(h.value(), 0.5);
  EXPECT_EQ(h.days_scored(), 2);
  EXPECT_EQ(h.days_skipped(), 2);
}

TEST(HitRate, CoverageRoundsDown) {
  // 9 nodes at 20%: floor(1.8) = 1 slot.
  const std::vector<float> s = {0.9f, 0.8f, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(one_day(s, {0, 1, 0, 0, 0, 0, 0, 0, 0}), 0.0);
  // 10 nodes at 25%: floor(2.5) = 2 slots.
  HitRateOptions o;
  o.coverage = 0.25;
  const std::vector<float> t = {0.9f, 0.8f, 0.7f, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(one_day(t, {0, 1, 1, 0, 0, 0, 0, 0, 0, 0}, o), 0.5);
  // Fewer nodes than 1/c: no slot at all.
  EXPECT_DOUBLE_EQ(one_day({0.9f, 0.1f}, {1, 0}), 0.0);
}

TEST(HitRate, EventWeightedCountsEvents) {
  HitRateOptions o;
  o.kind = HitRateKind::EventWeighted;
  const std::vector<float> s = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f};
  EXPECT_DOUBLE_EQ(one_day(s, {3, 0, 0, 0, 0, 1, 0, 0, 0, 0}, o), 0.75);
  // Pooled over days, not averaged per day.
  HitRate h(o);
  const std::vector<std::int32_t> d1 = {3, 0, 0, 0, 0, 1, 0, 0, 0, 0}, d2 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 4};
  h.add_day(s.data(), d1.data(), 10);
  h.add_day(s.data(), d2.data(), 10);
  EXPECT_DOUBLE_EQ(h.value(), 3.0 / 8.0);
}

TEST(HitRate, StreetLengthCoverage) {
  HitRateOptions o;
  o.kind = HitRateKind::StreetLength;
  // Total length 1200 m, 20% = 240 m: node 0 (100 m) fully, node 1 (300 m) for 140/300.
  const std::vector<double> len = {100, 300, 100, 100, 100, 100, 100, 100, 100, 100};
  const std::vector<float> s = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f};
  EXPECT_NEAR(one_day(s, {0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, o, len), 140.0 / 300.0, 1e-12);
  EXPECT_NEAR(one_day(s, {1, 0, 1, 0, 0, 0, 0, 0, 0, 0}, o, len), 0.5, 1e-12);
  EXPECT_THROW(HitRate(o, {}), ConfigError);
}

TEST(HitRate, NanScoresRankLast) {
  const std::vector<float> s = {NAN, 0.1f, 0.0f, 0.0f, 0.0f};  // k = 1
  EXPECT_DOUBLE_EQ(one_day(s, {0, 1, 0, 0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(one_day(s, {1, 0, 0, 0, 0}), 0.0);
}

TEST(HitRate, OptionsAreValidated) {
  HitRateOptions o;
  o.coverage = 0.0;
  EXPECT_THROW(HitRate{o}, ConfigError);
  o.coverage = 1.5;
  EXPECT_THROW(HitRate{o}, ConfigError);
  EXPECT_THROW(parse_hit_rate_kind("top-k"), ConfigError);
  EXPECT_EQ(parse_hit_rate_kind("event-weighted"), HitRateKind::EventWeighted);
  EXPECT_EQ(HitRateOptions{}.describe(), "hit rate (day-mean) at 20% coverage");
}
