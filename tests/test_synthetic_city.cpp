#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "crimegraph/data/synthetic_city.hpp"
#include "crimegraph/data/windows.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/model/baselines.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

TEST(SyntheticGrid, HasRequestedSizeAndOriginalEdgeGeometry) {
  StreetGridOptions o;
  const auto g = synthetic_street_grid(o);
  EXPECT_EQ(g.node_count(), 1177);
  // Line graph of a grid: about 3 edges per segment, like central Baltimore's 3469.
  EXPECT_GT(g.edges.size(), 3200u);
  EXPECT_LT(g.edges.size(), 3600u);
  for (const auto& e : g.edges) {
    // The meeting point is at a segment end, so the distance is 0, L/2 or (La+Lb)/2.
    const double la = g.length_m[e.u], lb = g.length_m[e.v];
    const double candidates[] = {0.0, la / 2, lb / 2, (la + lb) / 2};
    double best = 1e9;
    for (double c : candidates) best = std::min(best, std::abs(c - e.distance_m));
    ASSERT_LT(best, 1e-9);
    ASSERT_DOUBLE_EQ(e.weight, std::exp(-e.distance_m * e.distance_m / (2 * 750.0 * 750.0)));
  }
  EXPECT_NO_THROW(g.validate());
}

TEST(SyntheticGrid, SmallGridIsExact) {
  StreetGridOptions o;
  o.nodes = 4;  // a 2x2 block: 4 segments around a square, each meeting 2 others at each corner
  o.jitter_m = 0;
  o.block_m = 100;
  const auto g = synthetic_street_grid(o);
  ASSERT_EQ(g.node_count(), 4);
  EXPECT_EQ(g.edges.size(), 4u);  // a ring of 4 segments
  for (const auto& e : g.edges) {
    EXPECT_TRUE(e.distance_m == 0.0 || e.distance_m == 50.0 || e.distance_m == 100.0) << e.distance_m;
  }
}

TEST(SyntheticCity, DeterministicForASeed) {
  const auto a = fixture::small_city(50, 120, 3), b = fixture::small_city(50, 120, 3), c = fixture::small_city(50, 120, 4);
  EXPECT_EQ(a.counts, b.counts);
  EXPECT_EQ(a.intensity, b.intensity);
  EXPECT_NE(a.counts, c.counts);
}

TEST(SyntheticCity, StatisticsAreSane) {
  const auto ds = fixture::small_city(400, 1000, 5);
  ds.validate();
  const std::size_t n = 400, days = 1000;
  // Mean violent intensity matches the mean violent count (Poisson draws of the intensity).
  double lambda = 0.0, events = 0.0;
  for (std::size_t i = 0; i < ds.label.size(); ++i) {
    lambda += ds.intensity[i];
    events += ds.label[i];
  }
  EXPECT_NEAR(events / lambda, 1.0, 0.05);
  // Self-excitation raises rates above the background but keeps them bounded.
  const double background = EventProcessOptions{}.base_rate[2];
  const double rate = events / (n * days);
  EXPECT_GT(rate, 1.5 * background);
  EXPECT_LT(rate, 10 * background);
  // Heterogeneous: the busiest 20% of segments carry well over 20% of events.
  std::vector<double> per_node(n, 0.0);
  for (std::size_t t = 0; t < days; ++t)
    for (std::size_t i = 0; i < n; ++i) per_node[i] += ds.label[t * n + i];
  std::sort(per_node.rbegin(), per_node.rend());
  const double top = std::accumulate(per_node.begin(), per_node.begin() + n / 5, 0.0);
  EXPECT_GT(top / events, 0.4);
  // Features are the exponential smoothing of the counts.
  const auto c = ds.channel_index("ViolentSmoothed");
  const double s1 = ds.features[(1 * n + 7) * 3 + c], s0 = ds.features[(0 * n + 7) * 3 + c];
  EXPECT_NEAR(s1, 0.5 * ds.label[n + 7] + 0.5 * s0, 1e-6);
}

TEST(SyntheticCity, NaiveIsClearlyBelowOracle) {
  const auto ds = fixture::small_city(600, 1200, 9);
  const WindowIndex index(ds.days(), 14);
  const auto b = baseline_hit_rates(ds, index, Split::Test, {});
  ASSERT_TRUE(b.oracle.has_value());
  EXPECT_GT(b.naive, 0.2 + 0.05) << "the naive baseline should beat random flagging";
  EXPECT_GT(*b.oracle, b.naive + 0.05) << "the oracle should clearly beat the naive baseline";
  EXPECT_LT(*b.oracle, 0.95) << "the process should not be trivially predictable";
}

TEST(SyntheticCity, BadOptionsAreErrors) {
  StreetGridOptions g;
  g.nodes = 1;
  EXPECT_THROW(synthetic_street_grid(g), ConfigError);
  g.nodes = -5;
  EXPECT_THROW(synthetic_street_grid(g), ConfigError);
  EventProcessOptions e;
  e.days = 0;
  EXPECT_THROW(simulate_city(synthetic_street_grid({}), e), ConfigError);
  e.days = 10;
  e.excitation[2][2] = 0.5;  // explosive
  EXPECT_THROW(simulate_city(synthetic_street_grid({}), e), ConfigError);
}
