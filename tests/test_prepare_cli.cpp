#include <gtest/gtest.h>

#include <filesystem>

#include "crimegraph/data/dataset_file.hpp"
#include "fixtures.hpp"
#include "process.hpp"

using namespace crimegraph;
using fixture::run_command;

namespace {
const std::string kExe = CRIMEGRAPH_PREPARE_EXE;
}

TEST(PrepareCli, SynthThenInspect) {
  fixture::TempDir dir;
  const auto out = dir.file("city.h5");
  auto r = run_command(kExe + " synth --out " + out + " --nodes 120 --days 400 --seed 3 --log-level warn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("windows     lookback 14: train 266, validation 46, test 46"), std::string::npos) << r.output;
  const auto ds = read_dataset(out);
  EXPECT_EQ(ds.nodes(), 120);
  EXPECT_EQ(ds.days(), 400);
  EXPECT_EQ(ds.provenance.at("seed"), "3");

  r = run_command(kExe + " inspect " + out + " --lookback 7");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("120 nodes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2014-01-01 .."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("lookback 7: train 273"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("oracle"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("naive"), std::string::npos) << r.output;

  // A new city on the same graph.
  r = run_command(kExe + " synth --out " + dir.file("same-graph.h5") + " --graph " + out +
                  " --days 100 --seed 4 --log-level warn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_dataset(dir.file("same-graph.h5")).graph.x, ds.graph.x);
}

TEST(PrepareCli, ErrorsAreOneLineAndNonZero) {
  fixture::TempDir dir;
  struct Case {
    std::string args, expect;
  };
  const Case cases[] = {
      {"inspect /nonexistent/file.h5", "/nonexistent/file.h5"},
      {"synth --out " + dir.file("x.h5") + " --days -5", "days"},
      {"synth --out " + dir.file("x.h5") + " --nodes -3", "nodes"},
      {"synth --nodes 10", "out"},
      {"synth --out " + dir.file("x.h5") + " --frobnicate 2", "frobnicate"},
      {"synth --out " + dir.file("x.h5") + " --start-date 2014-02-30", "2014-02-30"},
      {"bogus", "unknown command"},
  };
  for (const auto& c : cases) {
    const auto r = run_command(kExe + " " + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find("error:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.h5")));
  // L >= days for inspect.
  ASSERT_EQ(run_command(kExe + " synth --out " + dir.file("s.h5") + " --nodes 10 --days 20 --lookback 5 --log-level warn").exit_code, 0);
  const auto r = run_command(kExe + " inspect " + dir.file("s.h5") + " --lookback 20");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("lookback (20 days) must be shorter than the dataset (20 days)"), std::string::npos) << r.output;
}

TEST(PrepareCli, HelpAndVersion) {
  auto r = run_command(kExe + " synth --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--nodes"), std::string::npos);
  r = run_command(kExe + " --version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("0.1.0"), std::string::npos) << r.output;
}

// A dataset too short for its windows is refused before anything is written.
TEST(PrepareCli, TooShortADatasetWritesNothing) {
  fixture::TempDir dir;
  const auto out = dir.file("short.h5");
  const auto r = run_command(kExe + " synth --out " + out + " --nodes 30 --days 10 --log-level warn");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out)) << "a complete-looking file was left behind";
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()), 0);
}
