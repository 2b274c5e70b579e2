#include <gtest/gtest.h>

#include <set>

#include "crimegraph/data/windows.hpp"
#include "crimegraph/error.hpp"

using namespace crimegraph;

TEST(Windows, OriginalStudyCounts) {
  const WindowIndex index(3232, 14);
  EXPECT_EQ(index.count(Split::Train), 2248);
  EXPECT_EQ(index.count(Split::Validation), 470);
  EXPECT_EQ(index.count(Split::Test), 472);
  EXPECT_EQ(index.days_of(Split::Train).size(), 2262);
  EXPECT_EQ(index.days_of(Split::Validation).size(), 484);
  EXPECT_EQ(index.days_of(Split::Test).size(), 486);
}

TEST(Windows, NoWindowCrossesASplit) {
  for (std::int32_t days : {20, 57, 100, 3232}) {
    for (std::int32_t lookback : {1, 3, 14}) {
      if (lookback >= days) continue;
      const WindowIndex index(days, lookback);
      std::set<std::int32_t> targets;
      for (auto s : {Split::Train, Split::Validation, Split::Test}) {
        const auto r = index.days_of(s);
        for (auto t : index.target_days(s)) {
          EXPECT_GE(t - lookback, r.first) << "window input starts before its split";
          EXPECT_LT(t, r.end);
          EXPECT_TRUE(targets.insert(t).second);
        }
      }
    }
  }
}

TEST(Windows, TinySplitsHaveNoWindows) {
  const WindowIndex index(30, 5);  // 21 / 4 / 5 days
  EXPECT_EQ(index.count(Split::Train), 16);
  EXPECT_EQ(index.count(Split::Validation), 0);
  EXPECT_EQ(index.count(Split::Test), 0);
  EXPECT_TRUE(index.target_days(Split::Validation).empty());
  EXPECT_THROW(index.target_day(Split::Validation, 0), ConfigError);
}

TEST(Windows, BadSizesAreErrors) {
  EXPECT_THROW(WindowIndex(10, 10), ConfigError);
  EXPECT_THROW(WindowIndex(10, 14), ConfigError);
  EXPECT_THROW(WindowIndex(0, 1), ConfigError);
  EXPECT_THROW(WindowIndex(-3, 1), ConfigError);
  EXPECT_THROW(WindowIndex(100, 0), ConfigError);
  EXPECT_THROW(WindowIndex(100, -2), ConfigError);
  EXPECT_THROW(WindowIndex(100, 5, {0.9, 0.2}), ConfigError);
}

TEST(BatchIterator, CoversEveryWindowOncePerEpoch) {
  const WindowIndex index(3232, 14);
  BatchIterator it(index, Split::Train, 30, 5);
  EXPECT_EQ(it.batches_per_epoch(), 75);
  std::vector<std::int32_t> first_epoch;
  for (int epoch = 0; epoch < 3; ++epoch) {
    it.start_epoch(epoch);
    std::multiset<std::int32_t> seen;
    std::vector<std::int32_t> order, batch;
    int batches = 0;
    while (it.next(batch)) {
      ++batches;
      EXPECT_LE(batch.size(), 30u);
      for (auto t : batch) {
        seen.insert(t);
        order.push_back(t);
      }
    }
    EXPECT_EQ(batches, 75);
    EXPECT_EQ(seen.size(), 2248u);
    const auto all = index.target_days(Split::Train);
    EXPECT_EQ(std::set<std::int32_t>(seen.begin(), seen.end()), std::set<std::int32_t>(all.begin(), all.end()));
    if (epoch == 0) first_epoch = order;
    else EXPECT_NE(order, first_epoch) << "each epoch has its own order";
  }
}

TEST(BatchIterator, OrderDependsOnlyOnSeedAndEpoch) {
  const WindowIndex index(500, 14);
  BatchIterator a(index, Split::Train, 7, 11), b(index, Split::Train, 7, 11), c(index, Split::Train, 7, 12);
  a.start_epoch(4);
  b.start_epoch(2);
  b.start_epoch(4);
  c.start_epoch(4);
  std::vector<std::int32_t> x, y, z;
  a.next(x);
  b.next(y);
  c.next(z);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(BatchIterator, UnshuffledIsChronological) {
  const WindowIndex index(100, 5);
  BatchIterator it(index, Split::Validation, 4, 1, false);
  std::vector<std::int32_t> batch;
  ASSERT_TRUE(it.next(batch));
  EXPECT_EQ(batch, (std::vector<std::int32_t>{75, 76, 77, 78}));
  EXPECT_THROW(BatchIterator(index, Split::Train, 0, 1), ConfigError);
}
