// Seconds per GLDNet training epoch and peak memory on the default synthetic city
// (1177 nodes, 3232 days, 2248 training windows, batch 30, default hyperparameters, 1 thread).
//   bench_train_epoch [--epochs 5] [--dataset FILE.h5]
// Targets (issue 3): <= 0.3 s per training epoch, <= 300 MB peak RSS.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/model/trainer.hpp"

using namespace crimegraph;

int main(int argc, char** argv) {
  int epochs = 5;
  std::string path;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--epochs")) epochs = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dataset")) path = argv[i + 1];
  }
  // A search worker reads only what training needs (DatasetParts::Training) and drops it once
  // the training view is built; so does this benchmark. Without --dataset it writes the
  // default synthetic city to a temporary file first (in a child process, so its memory does
  // not count here).
  if (path.empty()) {
    path = (std::filesystem::temp_directory_path() / "crimegraph-bench-city.h5").string();
    if (!std::filesystem::exists(path)) {
      const std::string cmd = std::string(CRIMEGRAPH_PREPARE_EXE) + " synth --log-level warn --out " + path + " > /dev/null";
      if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "cannot generate %s\n", path.c_str());
        return 1;
      }
    }
  }
  std::shared_ptr<const TrainingData> data;
  {
    const auto ds = read_dataset(path, DatasetParts::Training);
    data = std::make_shared<const TrainingData>(ds);
  }
  Trainer trainer(data, Hyperparameters{}, TrainerOptions{});
  std::vector<double> train, eval;
  trainer.fit(epochs, [&](const EpochRecord& r) {
    train.push_back(r.train_seconds);
    eval.push_back(r.eval_seconds);
    std::printf("epoch %d: train %.3f s, validation %.3f s, val hit rate %.4f\n", r.epoch, r.train_seconds,
                r.eval_seconds, r.validation_hit_rate);
  });
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("median train seconds/epoch %.3f (target <= 0.3)\n", median(train));
  std::printf("median validation seconds/epoch %.3f\n", median(eval));
  std::printf("peak RSS %.1f MB (target <= 300)\n", usage.ru_maxrss / 1024.0);
  return 0;
}
