#pragma once
// Calendar days as integers: day numbers count days since 1970-01-01 (proleptic Gregorian),
// so a daily calendar is a run of consecutive integers.
#include <cstdint>
#include <string>

namespace crimegraph {

std::int32_t day_number_from_civil(int year, int month, int day);
/// "YYYY-MM-DD".
std::string iso_date(std::int32_t day_number);
/// Parses "YYYY-MM-DD"; throws DataError on anything else.
std::int32_t parse_iso_date(const std::string& text);
/// 0 = Monday ... 6 = Sunday.
int weekday(std::int32_t day_number);
/// 0-based day of the year.
int day_of_year(std::int32_t day_number);

}  // namespace crimegraph
