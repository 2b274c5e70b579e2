#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crimegraph/data/dataset_file.hpp"
#include "fixtures.hpp"
#include "process.hpp"

using namespace crimegraph;
using fixture::run_command;

namespace {
const std::string kExe = CRIMEGRAPH_TRAIN_EXE;
}

TEST(TrainCli, TrainsAndReportsBaselines) {
  fixture::TempDir dir;
  write_dataset(fixture::small_city(80, 300, 5), dir.file("city.h5"));
  { std::ofstream(dir.file("model.ini")) << "epochs = 2\n[model]\nnum_ldn_layers = 2\nloss_rho = 0.02\n"; }
  const auto r = run_command(kExe + " --dataset " + dir.file("city.h5") + " --config " + dir.file("model.ini") +
                             " --set num_gated_relu_hidden_units=4 --save " + dir.file("model.pt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epoch   2/2"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("epoch   3/"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("num_ldn_layers=2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("num_gated_relu_hidden_units=4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("loss_rho=0.02"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("test hit rate (day-mean) at 20% coverage"), std::string::npos) << r.output;
  for (const char* word : {"GLDNet", "naive", "historical", "oracle"}) EXPECT_NE(r.output.find(word), std::string::npos) << word;
  EXPECT_TRUE(std::filesystem::exists(dir.file("model.pt")));
}

// The memory a configuration needs is said before training; too much for the machine is a warning.
TEST(TrainCli, AConfigurationTooLargeForTheMemoryIsAWarning) {
  fixture::TempDir dir;
  write_dataset(fixture::small_city(30, 150, 5), dir.file("city.h5"));
  const std::string train = kExe + " --dataset " + dir.file("city.h5") + " --epochs 1 --set num_ldn_hidden_units=64";
  const auto roomy = run_command(train);
  ASSERT_EQ(roomy.exit_code, 0) << roomy.output;
  // With room, the windows are smoothed once into a table (150 days x 30 nodes x 12 floats).
  EXPECT_NE(roomy.output.find(" in training and 216 kB of smoothed windows; "), std::string::npos) << roomy.output;
  EXPECT_EQ(roomy.output.find("may run out of memory"), std::string::npos) << roomy.output;
  const auto tight = run_command("CRIMEGRAPH_MEMORY_LIMIT=1M " + train);
  ASSERT_EQ(tight.exit_code, 0) << tight.output;
  EXPECT_NE(tight.output.find("of this machine's 1 MB: it may run out of memory"), std::string::npos) << tight.output;
  EXPECT_NE(tight.output.find(" in training; "), std::string::npos) << tight.output;
}

TEST(TrainCli, BadConfigFailsBeforeTraining) {
  fixture::TempDir dir;
  { std::ofstream(dir.file("bad.ini")) << "[model]\nnum_ldn_layrs = 2\n"; }
  struct Case {
    std::string args, expect;
  };
  const Case cases[] = {
      {"--set num_ldn_layrs=2", "unknown hyperparameter 'num_ldn_layrs'"},
      {"--set num_ldn_layers=0", "out of range"},
      {"--set loss_rho=2", "out of range"},
      {"--config /nonexistent.ini", "cannot read config file '/nonexistent.ini'"},
      {"--config " + dir.file("bad.ini"), "num_ldn_layrs"},
      {"--epochs 0", "--epochs"},
  };
  for (const auto& c : cases) {
    // The dataset does not exist: the error must come from the config, before any reading.
    const auto r = run_command(kExe + " --dataset /nonexistent/data.h5 " + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("/nonexistent/data.h5"), std::string::npos) << c.args << "\n" << r.output;
  }
}

// Where the model is to be saved is checked before any training.
TEST(TrainCli, SaveIntoAMissingFolderFailsBeforeTraining) {
  fixture::TempDir dir;
  write_dataset(fixture::small_city(40, 200, 5), dir.file("city.h5"));
  for (const auto& target : {dir.file("no/such/folder/model.ckpt"), dir.path().string()}) {
    const auto r = run_command(kExe + " --dataset " + dir.file("city.h5") + " --epochs 2 --save " + target);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("--save"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("epoch "), std::string::npos) << "trained before failing:\n" << r.output;
  }
}
