// Seconds per GLDNet training epoch and peak memory on the default synthetic city
// (1177 nodes, 3232 days, 2248 training windows, batch 30, default hyperparameters, 1 thread),
// on the default SIMD target, or on several side by side (--simd all, or a comma-separated
// list): one trainer per target, their epochs taking turns, so that they share the machine's
// noise; the ratio is each target's median to the first's. The windows' smoothed inputs come
// from one table made before the first epoch, as a search's workers and crimegraph-train read
// them (and as the PyTorch reference does); --windows raw smooths each group's days instead.
// --smoothing A trains as a trial that searches the channels' smoothing factor: it times the
// channels' recomputation from the daily counts, then trains on them from raw days.
//   bench_train_epoch [--epochs 5] [--dataset FILE.h5] [--simd all|NAME,...] [--threads 1]
//                     [--windows table|raw] [--smoothing A]
// Target: <= 0.2 s per training epoch on an AVX2 machine.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_cpu.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/model/trainer.hpp"

using namespace crimegraph;

int main(int argc, char** argv) {
  int epochs = 5, threads = 1;
  double smoothing = 0.0;
  std::string path, simd, windows = "table";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--epochs")) epochs = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dataset")) path = argv[i + 1];
    if (!std::strcmp(argv[i], "--simd")) simd = argv[i + 1];
    if (!std::strcmp(argv[i], "--threads")) threads = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--windows")) windows = argv[i + 1];
    if (!std::strcmp(argv[i], "--smoothing")) smoothing = std::stod(argv[i + 1]);
  }
  if (smoothing != 0.0) windows = "raw";  // recomputed channels have no table
  if (windows != "table" && windows != "raw") {
    std::fprintf(stderr, "--windows is table or raw, not %s\n", windows.c_str());
    return 2;
  }
  std::vector<std::string> targets;
  if (simd == "all") {
    targets = simd_targets();
  } else if (simd.empty()) {
    targets = {default_simd_target()};
  } else {
    for (std::size_t at = 0; at <= simd.size();) {
      const auto comma = std::min(simd.find(',', at), simd.size());
      targets.push_back(simd.substr(at, comma - at));
      at = comma + 1;
    }
  }
  try {
    for (const auto& t : targets) describe_simd_target(t);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  std::printf("%s\n", bench::cpu_description().c_str());
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
    const auto ds = read_dataset(path, smoothing != 0.0 ? DatasetParts::TrainingAndCounts : DatasetParts::Training);
    auto own = std::make_shared<TrainingData>(ds);
    if (windows == "table") own->cache_smoothed_windows(Hyperparameters{}.lookback);
    data = std::move(own);
  }
  Hyperparameters hp;
  if (smoothing != 0.0) {
    hp.smoothing = smoothing;
    // As a worker does: a copy for its first factor, recomputed in place for the next ones.
    const auto t0 = std::chrono::steady_clock::now();
    auto resmoothed = TrainingData::resmoothed(data, smoothing);
    const double first = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> ms;
    for (int r = 0; r < 5; ++r) {
      const auto t1 = std::chrono::steady_clock::now();
      resmoothed->recompute_channels(r % 2 ? smoothing : smoothing / 2);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count());
    }
    resmoothed->recompute_channels(smoothing);
    std::sort(ms.begin(), ms.end());
    std::printf("channels (%.1f MB) recomputed from the daily counts with smoothing %g: %.1f ms into fresh memory, "
                "then %.1f ms in place (median of 5)\n",
                resmoothed->channel_bytes() / 1e6, smoothing, first, ms[2]);
    data = std::move(resmoothed);
  }
  std::printf("windows: %s\n", windows == "table" ? "smoothed once into a table" : "smoothed per group");
  // A trainer makes its kernels on its first epoch, for the target CRIMEGRAPH_SIMD names then.
  TrainerOptions options;
  options.threads = threads;
  std::vector<std::unique_ptr<Trainer>> trainers;
  for (const auto& t : targets) trainers.push_back(std::make_unique<Trainer>(data, hp, options));
  std::vector<std::vector<double>> train(targets.size()), eval(targets.size());
  for (int e = 1; e <= epochs; ++e) {
    for (std::size_t t = 0; t < targets.size(); ++t) {
      setenv("CRIMEGRAPH_SIMD", targets[t].c_str(), 1);
      trainers[t]->fit(e, [&](const EpochRecord& r) {
        train[t].push_back(r.train_seconds);
        eval[t].push_back(r.eval_seconds);
        std::printf("epoch %d, %-8s: train %.3f s, validation %.3f s, val hit rate %.4f\n", r.epoch,
                    targets[t].c_str(), r.train_seconds, r.eval_seconds, r.validation_hit_rate);
      });
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  for (std::size_t t = 0; t < targets.size(); ++t) {
    std::printf("%-8s median train seconds/epoch %.3f (%d thread(s); %.2fx the first), validation %.3f\n",
                targets[t].c_str(), median(train[t]), threads, median(train[t]) / median(train[0]), median(eval[t]));
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("peak RSS %.1f MB, of which the smoothed-window table %.1f MB (a search's workers share one per node)\n",
              usage.ru_maxrss / 1024.0, static_cast<double>(data->cached_bytes()) / (1024.0 * 1024.0));
  return 0;
}
