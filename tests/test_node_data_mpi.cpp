// Run by ctest under mpirun (3 ranks: the coordinator and two workers): every worker's shared
// view of the training data equals what a process reading the file alone would train on.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>

#include "crimegraph/cluster/mpi_transport.hpp"
#include "crimegraph/cluster/node_data.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

namespace {

MpiSession* session = nullptr;
// Rank 0's folder for the tests' files, removed when every rank has finished with them.
fixture::TempDir* folder = nullptr;
constexpr std::int32_t kLookback = 7;

// Rank 0 writes a dataset; every rank learns its path.
std::string shared_path(const std::string& name, std::uint64_t seed) {
  std::string path = folder->file(name);
  if (session->rank() == 0) write_dataset(fixture::small_city(40, 120, seed), path);
  int size = static_cast<int>(path.size());
  MPI_Bcast(&size, 1, MPI_INT, 0, MPI_COMM_WORLD);
  path.resize(static_cast<std::size_t>(size));
  MPI_Bcast(path.data(), size, MPI_CHAR, 0, MPI_COMM_WORLD);
  return path;
}

void expect_same_training_data(const TrainingData& shared, const TrainingData& own) {
  ASSERT_EQ(shared.days(), own.days());
  ASSERT_EQ(shared.nodes(), own.nodes());
  ASSERT_EQ(shared.channels(), own.channels());
  const std::size_t n = static_cast<std::size_t>(own.days()) * own.nodes() * own.channels();
  EXPECT_EQ(std::memcmp(shared.window_begin(kLookback, kLookback), own.window_begin(kLookback, kLookback), n * 4), 0);
  EXPECT_EQ(std::memcmp(shared.label_of_day(0), own.label_of_day(0), static_cast<std::size_t>(own.days()) * own.nodes() * 4), 0);
  EXPECT_EQ(shared.adjacency().value, own.adjacency().value);
  EXPECT_EQ(shared.adjacency().col, own.adjacency().col);
  EXPECT_EQ(shared.lengths(), own.lengths());
}

std::string test_file(const std::string& name) {
  return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" + name;
}

struct Outcome {
  NodeData data;
  std::string error;  // what share_training_data threw, if it did
  bool refused = false;
};

Outcome share(NodeComm& comm, const NodeDataOptions& options) {
  Outcome o;
  try {
    o.data = share_training_data(comm, options);
  } catch (const DatasetRefused& e) {
    o.refused = true;
    o.error = e.what();
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

// Options that keep the table of smoothed windows (a budget far above its size).
NodeDataOptions with_the_table(const std::string& path) {
  NodeDataOptions options;
  options.dataset_path = path;
  options.lookback = kLookback;
  options.window_cache_bytes = 1ull << 30;
  return options;
}

TEST(NodeData, SharedViewsEqualTheFile) {
  const auto path = shared_path(test_file("city.h5"), 3);
  NodeComm comm(*session);
  auto options = with_the_table(path);
  for (const auto mode : {DatasetBroadcast::Auto, DatasetBroadcast::Always}) {
    options.broadcast = mode;
    const auto out = share(comm, options);
    ASSERT_EQ(out.error, "") << dataset_broadcast_name(mode);
    if (comm.coordinator()) {
      EXPECT_FALSE(out.data.training);
      continue;
    }
    ASSERT_TRUE(out.data.training);
    EXPECT_EQ(out.data.source.in_memory(), mode == DatasetBroadcast::Always);
    TrainingData own(read_dataset(path, DatasetParts::Training));
    own.cache_smoothed_windows(kLookback);
    expect_same_training_data(*out.data.training, own);
    const std::size_t row = static_cast<std::size_t>(own.nodes()) * own.smoothed_width();
    for (std::int32_t t = kLookback; t < own.days(); ++t) {
      ASSERT_NE(out.data.training->cached_smoothed_window(t, kLookback), nullptr);
      ASSERT_EQ(std::memcmp(out.data.training->cached_smoothed_window(t, kLookback), own.cached_smoothed_window(t, kLookback),
                            row * 4),
                0)
          << "window " << t << ", " << dataset_broadcast_name(mode);
    }
    // The node's file, read from shared memory when rank 0 sent it, is the whole dataset.
    EXPECT_EQ(read_dataset(out.data.source).counts, read_dataset(path).counts);
  }
}

TEST(NodeData, TheTableIsLeftOutWhenOverTheNodesBudget) {
  const auto path = shared_path(test_file("city.h5"), 3);
  NodeComm comm(*session);
  NodeDataOptions options;
  options.dataset_path = path;
  options.lookback = kLookback;
  options.window_cache_bytes = 1000;
  const auto out = share(comm, options);
  ASSERT_EQ(out.error, "");
  if (comm.coordinator()) return;
  EXPECT_EQ(out.data.training->cached_smoothed_window(kLookback, kLookback), nullptr);
  expect_same_training_data(*out.data.training, TrainingData(read_dataset(path, DatasetParts::Training)));
}

// A space that searches the smoothing factor: the node keeps the daily counts beside the table,
// and channels recomputed from them are those of the dataset prepared with that factor.
TEST(NodeData, TheDailyCountsAreSharedForTrialsThatSmoothTheirInputs) {
  const auto path = shared_path(test_file("city.h5"), 3);
  NodeComm comm(*session);
  auto options = with_the_table(path);
  options.counts = true;
  const auto out = share(comm, options);
  ASSERT_EQ(out.error, "");
  if (comm.coordinator()) return;
  ASSERT_TRUE(out.data.training->has_counts());
  ASSERT_NE(out.data.training->cached_smoothed_window(kLookback, kLookback), nullptr) << "the table is laid out after the counts";
  const auto dataset = read_dataset(path);
  expect_same_training_data(*out.data.training, TrainingData(dataset));
  const auto resmoothed = TrainingData::with_smoothing(out.data.training, 0.2);
  expect_same_training_data(*resmoothed, TrainingData(dataset, 0.2));
  EXPECT_EQ(resmoothed->cached_smoothed_window(kLookback, kLookback), nullptr);
}

TEST(NodeData, ADifferentFileOnANodeIsRefusedEverywhere) {
  const auto path = shared_path(test_file("city.h5"), 3);
  const auto other = shared_path(test_file("other.h5"), 4);
  NodeComm comm(*session);
  NodeDataOptions options;
  options.dataset_path = path;
  options.node_paths = {other};  // node 0, the only one, reads another file
  const auto out = share(comm, options);
  EXPECT_NE(out.error.find("node 0 ("), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("has a different dataset file"), std::string::npos) << out.error;
  EXPECT_TRUE(out.refused);  // on every rank, so that each can end without MPI_Abort
}

TEST(NodeData, ANodeWithoutTheFileReceivesIt) {
  const auto path = shared_path(test_file("city.h5"), 3);
  NodeComm comm(*session);
  NodeDataOptions options;
  options.dataset_path = path;
  options.node_paths = {""};
  const auto out = share(comm, options);
  options.broadcast = DatasetBroadcast::Never;
  const auto never = share(comm, options);
  EXPECT_NE(never.error.find("cannot read the dataset file"), std::string::npos) << never.error;
  ASSERT_EQ(out.error, "");
  if (comm.coordinator()) return;
  EXPECT_TRUE(out.data.source.in_memory());
  expect_same_training_data(*out.data.training, TrainingData(read_dataset(path, DatasetParts::Training)));
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  MpiSession mpi(&argc, &argv);
  session = &mpi;
  // Every rank prints its own results; any rank's failure fails the job.
  fixture::TempDir dir;
  folder = &dir;
  const int failed = RUN_ALL_TESTS();
  MPI_Barrier(MPI_COMM_WORLD);
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}
