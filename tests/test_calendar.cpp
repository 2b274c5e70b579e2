#include <gtest/gtest.h>

#include "crimegraph/data/calendar.hpp"
#include "crimegraph/error.hpp"

using namespace crimegraph;

TEST(Calendar, KnownDates) {
  EXPECT_EQ(day_number_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(day_number_from_civil(2014, 1, 1), 16071);
  EXPECT_EQ(iso_date(16071), "2014-01-01");
  EXPECT_EQ(iso_date(day_number_from_civil(2020, 2, 29)), "2020-02-29");
  EXPECT_EQ(weekday(16071), 2);  // 2014-01-01 was a Wednesday
  EXPECT_EQ(day_of_year(day_number_from_civil(2016, 12, 31)), 365);
}

TEST(Calendar, RoundTripsEveryDayOfADecade) {
  for (std::int32_t d = 16071; d < 16071 + 3652; ++d) ASSERT_EQ(parse_iso_date(iso_date(d)), d);
}

TEST(Calendar, RejectsBadDates) {
  EXPECT_THROW(parse_iso_date("2014-13-01"), DataError);
  EXPECT_THROW(parse_iso_date("2019-02-29"), DataError);
  EXPECT_THROW(parse_iso_date("14-01-01"), DataError);
  EXPECT_THROW(parse_iso_date("2014-01-01x"), DataError);
}
