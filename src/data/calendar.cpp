#include "crimegraph/data/calendar.hpp"

#include <cstdio>

#include "crimegraph/error.hpp"

namespace crimegraph {

// Howard Hinnant's days_from_civil / civil_from_days.
std::int32_t day_number_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

namespace {
void civil_from_days(std::int32_t z, int& y, int& m, int& d) {
  z += 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yoe) + era * 400 + (m <= 2);
}
}  // namespace

std::string iso_date(std::int32_t day_number) {
  int y, m, d;
  civil_from_days(day_number, y, m, d);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return buf;
}

std::int32_t parse_iso_date(const std::string& text) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
      d < 1 || d > 31) {
    throw DataError("'" + text + "' is not a date of the form YYYY-MM-DD");
  }
  const auto n = day_number_from_civil(y, m, d);
  if (iso_date(n) != text) throw DataError("'" + text + "' is not a valid calendar date");
  return n;
}

int weekday(std::int32_t day_number) {
  // 1970-01-01 was a Thursday (3 when Monday = 0).
  return static_cast<int>(((day_number % 7) + 7 + 3) % 7);
}

int day_of_year(std::int32_t day_number) {
  int y, m, d;
  civil_from_days(day_number, y, m, d);
  return day_number - day_number_from_civil(y, 1, 1);
}

}  // namespace crimegraph
