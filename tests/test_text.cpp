// The small text helpers of the io layer: moments for --deadline, CSV and JSON quoting, and
// files written through a temporary name.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"
#include "fixtures.hpp"

using namespace crimegraph;
using Clock = std::chrono::system_clock;

TEST(Text, TimePointsRelativeAbsoluteAndCalendar) {
  const auto before = Clock::now();
  const auto in_a_minute = parse_time_point("+60", "--deadline");
  EXPECT_GE(in_a_minute - before, std::chrono::seconds(60));
  EXPECT_LE(in_a_minute - before, std::chrono::seconds(62));
  EXPECT_EQ(Clock::to_time_t(parse_time_point("@1796296543", "--deadline")), 1796296543);
  EXPECT_EQ(Clock::to_time_t(parse_time_point("2026-12-03T11:15:43Z", "--deadline")), 1796296543);
  // Local time, as squeue prints a job's end: the same moment as mktime gives.
  std::tm tm{};
  tm.tm_year = 2026 - 1900, tm.tm_mon = 11, tm.tm_mday = 3, tm.tm_hour = 11, tm.tm_min = 15, tm.tm_sec = 43;
  tm.tm_isdst = -1;
  EXPECT_EQ(Clock::to_time_t(parse_time_point("2026-12-03T11:15:43", "--deadline")), std::mktime(&tm));
  // "+8666...": found by fuzz/run.sh (the conversion to the clock's ticks overflowed).
  for (const char* bad : {"", "soon", "+", "+x", "2026-12-03", "2026-12-03T11:15:43 tomorrow", "@1e400",
                          "+8666666666666666666666666666", "@-1e11", "@00000010000000000."}) {
    try {
      parse_time_point(bad, "--deadline");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--deadline"), std::string::npos) << e.what();
    }
  }
}

TEST(Text, CsvFieldsAndJsonStringsAreQuotedWhereNeeded) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(json_string("N. \"Charles\" St\\"), "\"N. \\\"Charles\\\" St\\\\\"");
  EXPECT_EQ(json_string("a\tb\n\x01"), "\"a\\tb\\n\\u0001\"");
}

TEST(Text, AFailedWriteLeavesNoFile) {
  fixture::TempDir dir;
  const auto path = dir.file("out.csv");
  write_file_atomically(path, [](std::ostream& out) { out << "a,b\n"; });
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "a,b\n");
  EXPECT_THROW(write_file_atomically(dir.file("half.csv"),
                                     [](std::ostream& out) {
                                       out << "half";
                                       throw IoError("disk full");
                                     }),
               IoError);
  EXPECT_FALSE(std::filesystem::exists(dir.file("half.csv")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()), 1)
      << "a temporary file was left behind";
  EXPECT_THROW(write_file_atomically(dir.file("no/such/folder/x.csv"), [](std::ostream&) {}), IoError);
}
