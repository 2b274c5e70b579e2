// The GLDNet kernel alone: microseconds per node for one group's forward + backward pass
// (default hyperparameters, 16 windows), on street grids of growing size, on every SIMD target
// this CPU runs (or the one --simd names), the targets taking turns so that they share the
// machine's noise. Per-node time that grows with the graph means the group's activations have
// left the cache.
//   bench_kernel [--repeats 200] [--nodes N] [--gated-layers 2] [--gated-units 8]
//                [--ldn-layers 5] [--ldn-units 4] [--simd NAME]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_cpu.hpp"
#include "crimegraph/data/synthetic_city.hpp"
#include "crimegraph/model/gldnet_parameters.hpp"
#include "crimegraph/model/training_data.hpp"

using namespace crimegraph;

int main(int argc, char** argv) {
  int repeats = 200;
  GLDNetShape shape;
  std::vector<std::int32_t> sizes{64, 256, 1177, 4096};
  std::vector<std::string> targets = simd_targets();
  for (int i = 1; i < argc; i += 2) {
    const std::string name = argv[i];
    if (name == "--simd" && i + 1 < argc) {
      targets = {argv[i + 1]};
      continue;
    }
    char* end = nullptr;
    const long value = i + 1 < argc ? std::strtol(argv[i + 1], &end, 10) : 0;
    if (i + 1 >= argc || *end != '\0' || value < 0) {
      std::fprintf(stderr, "%s needs a non-negative whole number\n", argv[i]);
      return 2;
    }
    if (name == "--repeats") repeats = static_cast<int>(value);
    else if (name == "--nodes") sizes = {static_cast<std::int32_t>(value)};
    else if (name == "--gated-layers") shape.gated_layers = value;
    else if (name == "--gated-units") shape.gated_units = value;
    else if (name == "--ldn-layers") shape.ldn_layers = value;
    else if (name == "--ldn-units") shape.ldn_units = value;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  std::printf("%s\n", bench::cpu_description().c_str());
  std::printf("shape: %lld gated x %lld, %lld diffusion x %lld; targets best first, ratio to the first\n",
              static_cast<long long>(shape.gated_layers), static_cast<long long>(shape.gated_units),
              static_cast<long long>(shape.ldn_layers), static_cast<long long>(shape.ldn_units));
  try {
    for (const auto& t : targets) describe_simd_target(t);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  for (std::int32_t nodes : sizes) {
    StreetGridOptions grid;
    grid.nodes = nodes;
    const auto adjacency = sparse_adjacency(synthetic_street_grid(grid), AdjacencyNorm::Row);
    const auto adjacency_t = transposed(adjacency);
    GLDNetParameters net(shape, 1);
    std::vector<GLDNetKernel> kernels;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::vector<float> input(static_cast<std::size_t>(nodes * shape.inputs * GLDNetKernel::kLanes));
    for (auto& v : input) v = uniform(rng);
    for (const auto& t : targets) {
      kernels.emplace_back(shape, adjacency, adjacency_t, t);
      std::copy(input.begin(), input.end(), kernels.back().input());
    }
    std::vector<float> grad(static_cast<std::size_t>(nodes) * GLDNetKernel::kLanes, 1e-3f);
    const auto params = net.bind();
    GLDNetGradients sums(shape);
    std::vector<std::vector<double>> runs(targets.size());
    for (int r = 0; r < 5; ++r) {
      for (std::size_t t = 0; t < targets.size(); ++t) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int k = 0; k < repeats; ++k) {
          kernels[t].forward(params);
          kernels[t].backward(params, grad.data(), sums);
        }
        runs[t].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    double first = 0.0;
    for (std::size_t t = 0; t < targets.size(); ++t) {
      std::sort(runs[t].begin(), runs[t].end());
      const double per_group = runs[t][2] / repeats;
      if (t == 0) first = per_group;
      std::printf("%5d nodes, %-8s: %8.1f us per group, %6.3f us per node (median of 5), %.2fx\n", nodes,
                  targets[t].c_str(), per_group * 1e6, per_group * 1e6 / nodes, per_group / first);
    }
  }
  // Loading a group's input: smoothing 16 random windows of the default synthetic city.
  {
    const auto ds = simulate_city(synthetic_street_grid(StreetGridOptions{}), EventProcessOptions{});
    const TrainingData data(ds);
    shape.inputs = data.smoothed_width();
    const auto adjacency = sparse_adjacency(ds.graph, AdjacencyNorm::Row);
    const auto weights = TrainingData::smoothing_weights(14);
    std::vector<GLDNetKernel> kernels;
    for (const auto& t : targets) kernels.emplace_back(shape, adjacency, adjacency, t);
    std::mt19937 rng(2);
    std::uniform_int_distribution<std::int32_t> day(14, data.days() - 1);
    std::vector<std::vector<double>> runs(targets.size());
    for (int r = 0; r < 5; ++r) {
      std::vector<std::int32_t> days(static_cast<std::size_t>(GLDNetKernel::kLanes) * repeats);
      for (auto& d : days) d = day(rng);
      for (std::size_t t = 0; t < targets.size(); ++t) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int k = 0; k < repeats; ++k)
          kernels[t].load_windows(data, days.data() + k * GLDNetKernel::kLanes, GLDNetKernel::kLanes, 14, weights);
        runs[t].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    for (std::size_t t = 0; t < targets.size(); ++t) {
      std::sort(runs[t].begin(), runs[t].end());
      std::printf("load_windows, %-8s: %8.1f us per group of 16 random windows (median of 5)\n", targets[t].c_str(),
                  runs[t][2] / repeats * 1e6);
    }
  }
  return 0;
}
