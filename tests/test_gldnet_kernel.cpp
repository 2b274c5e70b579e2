// The hand-written GLDNet kernel against the LibTorch module with autograd: same predictions,
// loss and parameter gradients, for several shapes and for batches that fill a group partly
// or span two; on every SIMD target this CPU can run.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <random>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "crimegraph/data/synthetic_city.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/model/gldnet.hpp"
#include "crimegraph/model/gldnet_kernel.hpp"
#include "crimegraph/model/gldnet_parameters.hpp"
#include "crimegraph/model/trainer.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

namespace {

constexpr int kLanes = GLDNetKernel::kLanes;

struct Case {
  GLDNetShape shape;
  int windows;
  // Lane vectors that are zero in every window, as in training, where the kernel's sparse
  // diffusion maps (8 and 16 units) skip them: a diffusion unit switched off everywhere, and
  // nodes whose windows are all alike or all empty; half the last gated layer's units off.
  bool quiet = false;
};

GLDNetShape make_shape(std::int64_t inputs, std::int64_t gated, std::int64_t gated_units, std::int64_t ldn,
                       std::int64_t ldn_units) {
  GLDNetShape s;
  s.inputs = inputs;
  s.gated_layers = gated;
  s.gated_units = gated_units;
  s.ldn_layers = ldn;
  s.ldn_units = ldn_units;
  s.prior_rate = 0.05;
  return s;
}

std::string describe(const Case& c) {
  const auto& s = c.shape;
  return "in " + std::to_string(s.inputs) + ", gated " + std::to_string(s.gated_layers) + "x" +
         std::to_string(s.gated_units) + ", ldn " + std::to_string(s.ldn_layers) + "x" + std::to_string(s.ldn_units) +
         ", " + std::to_string(c.windows) + " windows" + (c.quiet ? ", quiet nodes" : "");
}

// The kernel's outputs on one case: predictions, loss, parameter gradients (LibTorch's order).
struct KernelRun {
  std::vector<float> prediction;
  double loss_sum = 0.0;
  std::vector<torch::Tensor> grads;
};

void check_against_autograd(const Case& c, const std::string& target, KernelRun* keep = nullptr) {
  SCOPED_TRACE(describe(c) + " on " + target);
  StreetGridOptions grid;
  grid.nodes = 37;
  grid.seed = 5;
  const auto adjacency = std::make_shared<const GraphDiffusion>(
      sparse_adjacency(synthetic_street_grid(grid), AdjacencyNorm::Row));
  const std::int64_t n = adjacency->forward_matrix().nodes, in = c.shape.inputs;
  torch::manual_seed(11);
  GLDNet net(c.shape, adjacency);
  {
    // Non-zero biases, so that relu and gates cut in different places.
    torch::NoGradGuard no_grad;
    for (auto& p : net->named_parameters())
      if (p.key().find("bias") != std::string::npos) p.value().add_(torch::randn_like(p.value()) * 0.3);
    if (c.quiet) {
      for (auto& p : net->named_parameters())
        if (p.key().find("self.bias") != std::string::npos) p.value()[0] = -5.0;
      // The first half of the last gated layer's units off everywhere while the layer below has
      // them on: the gated maps' masks must be each layer's own.
      if (c.shape.gated_layers > 0) {
        const auto last = "gated." + std::to_string(c.shape.gated_layers - 1) + ".fused.bias";
        net->named_parameters()[last].slice(0, 0, c.shape.gated_units / 2).fill_(-50.0);
      }
    }
  }
  auto x = torch::rand({n, c.windows, in}) * 2.0;
  if (c.quiet) {
    for (std::int64_t i = 0; i < n; i += 3) x[i] = x[i][0].expand({c.windows, in}).clone();
    for (std::int64_t i = 1; i < n; i += 3) x[i].zero_();
  }
  auto label = torch::rand({n, c.windows});
  label = torch::where(label > 0.8, torch::floor(label * 4.0), torch::zeros_like(label));
  const double rho = 0.03;

  // The kernel, one group per kLanes windows.
  const int groups = (c.windows + kLanes - 1) / kLanes;
  std::vector<GLDNetKernel> kernels;
  std::vector<GLDNetGradients> sums;
  const auto params = net->params();
  const float scale = 1.0f / static_cast<float>(n * c.windows);
  double loss_sum = 0.0;
  std::vector<float> prediction(static_cast<std::size_t>(n * c.windows));
  for (int g = 0; g < groups; ++g) {
    kernels.emplace_back(c.shape, adjacency->forward_matrix(), adjacency->transposed_matrix(), target);
    auto& k = kernels.back();
    ASSERT_EQ(k.simd_target(), target);
    const int count = std::min(kLanes, c.windows - g * kLanes);
    std::vector<float> y(static_cast<std::size_t>(n * kLanes), 0.0f), grad(y.size());
    float* input = k.input();
    std::fill(input, input + n * in * kLanes, 0.0f);
    for (std::int64_t i = 0; i < n; ++i)
      for (int l = 0; l < count; ++l) {
        for (std::int64_t f = 0; f < in; ++f) input[(i * in + f) * kLanes + l] = x[i][g * kLanes + l][f].item<float>();
        y[static_cast<std::size_t>(i * kLanes + l)] = label[i][g * kLanes + l].item<float>();
      }
    const float* p = k.forward(params);
    for (std::int64_t i = 0; i < n; ++i)
      for (int l = 0; l < count; ++l)
        prediction[static_cast<std::size_t>(i * c.windows + g * kLanes + l)] = p[i * kLanes + l];
    loss_sum += weighted_squared_error_sum(p, y.data(), static_cast<std::int32_t>(n), count, rho, scale, grad.data());
    for (std::int64_t i = 0; i < n; ++i)
      for (int l = count; l < kLanes; ++l) ASSERT_EQ(grad[static_cast<std::size_t>(i * kLanes + l)], 0.0f);
    sums.emplace_back(c.shape);
    k.backward(params, grad.data(), sums.back());
  }
  for (int g = 0; g < groups; ++g) sums[static_cast<std::size_t>(g)].write(params, g > 0);
  std::vector<torch::Tensor> kernel_grads;
  for (auto& p : net->parameters()) {
    kernel_grads.push_back(p.grad().clone());
    p.mutable_grad().zero_();
  }

  // The reference: LibTorch forward and autograd.
  const auto reference = net->forward(x);
  const auto loss = weighted_squared_error(reference, label, rho);
  loss.backward();
  const auto kernel_prediction = torch::from_blob(prediction.data(), {n, c.windows});
  EXPECT_TRUE(torch::allclose(kernel_prediction, reference, 1e-5, 1e-6))
      << (kernel_prediction - reference).abs().max().item<float>();
  EXPECT_NEAR(loss_sum * scale, loss.item<double>(), 1e-6 * std::max(1.0, loss.item<double>()));
  std::size_t i = 0;
  for (const auto& p : net->named_parameters()) {
    const auto& expect = p.value().grad();
    const auto& got = kernel_grads[i++];
    const double tolerance = 1e-4 * std::max(1.0f, expect.abs().max().item<float>());
    EXPECT_LT((got - expect).abs().max().item<float>(), tolerance) << p.key();
    // A gradient of zeros would pass a loose test: the reference must have something to match.
    if (p.key().find("weight") != std::string::npos) {
      EXPECT_GT(expect.abs().sum().item<float>(), 0.0f) << p.key();
    }
  }
  if (keep) *keep = {prediction, loss_sum, kernel_grads};
}

// Every target this CPU runs, for value-parameterised tests: an AVX-512 machine also runs the
// AVX2, SSE4 and baseline code.
class KernelOnTarget : public ::testing::TestWithParam<std::string> {};

std::string target_test_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

// The cases of the autograd tests.
const std::map<std::string, std::vector<Case>>& autograd_cases() {
  static const std::map<std::string, std::vector<Case>> cases = {
      {"default shape, partial group", {{make_shape(12, 2, 8, 5, 4), 5}}},
      {"default shape, two groups", {{make_shape(12, 2, 8, 5, 4), 30}}},
      {"odd widths", {{make_shape(7, 1, 5, 3, 3), 17}}},
      {"wide layers", {{make_shape(12, 3, 16, 2, 16), 16}}},
      // The sparse diffusion maps (8 and 16 units) skip all-zero lane vectors.
      {"sparse diffusion maps",
       {{make_shape(12, 1, 16, 3, 16), 16, true},
        {make_shape(12, 2, 4, 4, 8), 21, true},
        {make_shape(12, 0, 8, 2, 16), 7, true}}},
      // Gated layers of 8 and 16 units skip the zero vectors of their inputs and of their
      // outputs' gradients: several layers (the maps between them are the sparse ones), inputs
      // of 12 (the first layer's weight gradients sparse too) and of 8 (dense), quiet nodes and not.
      {"sparse gated maps",
       {{make_shape(12, 3, 16, 1, 4), 16, true},
        {make_shape(12, 4, 8, 2, 2), 19, true},
        {make_shape(8, 2, 16, 0, 4), 16, true},
        {make_shape(12, 2, 16, 1, 16), 13}}},
      {"without gated layers", {{make_shape(12, 0, 8, 2, 2), 9}}},
      {"without diffusion layers", {{make_shape(12, 2, 4, 0, 4), 3}}},
  };
  return cases;
}

void check_cases(const std::string& name, const std::string& target) {
  for (const auto& c : autograd_cases().at(name)) check_against_autograd(c, target);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Simd, KernelOnTarget, ::testing::ValuesIn(simd_targets()), target_test_name);

TEST_P(KernelOnTarget, DefaultShapeMatchesAutogradOnPartialGroup) {
  check_cases("default shape, partial group", GetParam());
}

TEST_P(KernelOnTarget, DefaultShapeMatchesAutogradAcrossTwoGroups) {
  check_cases("default shape, two groups", GetParam());
}

TEST_P(KernelOnTarget, OddWidthsMatchAutograd) { check_cases("odd widths", GetParam()); }

TEST_P(KernelOnTarget, WideLayersMatchAutograd) { check_cases("wide layers", GetParam()); }

TEST_P(KernelOnTarget, SparseDiffusionMapsMatchAutograd) { check_cases("sparse diffusion maps", GetParam()); }

TEST_P(KernelOnTarget, SparseGatedMapsMatchAutograd) { check_cases("sparse gated maps", GetParam()); }

TEST_P(KernelOnTarget, WithoutGatedLayersMatchesAutograd) { check_cases("without gated layers", GetParam()); }

TEST_P(KernelOnTarget, WithoutDiffusionLayersMatchesAutograd) { check_cases("without diffusion layers", GetParam()); }

// The targets with fused multiply-adds compute every lane by the same operations whatever
// their width, so they agree bit for bit; the others are held to autograd's tolerance above.
TEST(GLDNetKernel, TargetsWithFusedMultiplyAddAgreeBitForBit) {
  std::vector<std::string> fused;
  for (const auto& t : simd_targets())
    if (t == "avx512" || t == "avx2" || t == "neon") fused.push_back(t);
  if (fused.size() < 2) GTEST_SKIP() << "this CPU runs " << fused.size() << " target(s) with FMA: nothing to compare";
  for (const auto& [name, cases] : autograd_cases()) {
    for (const auto& c : cases) {
      KernelRun first, other;
      check_against_autograd(c, fused[0], &first);
      for (std::size_t t = 1; t < fused.size(); ++t) {
        SCOPED_TRACE(name + ": " + fused[0] + " against " + fused[t]);
        check_against_autograd(c, fused[t], &other);
        EXPECT_EQ(other.prediction, first.prediction);
        EXPECT_EQ(other.loss_sum, first.loss_sum);
        ASSERT_EQ(other.grads.size(), first.grads.size());
        for (std::size_t i = 0; i < first.grads.size(); ++i) EXPECT_TRUE(torch::equal(other.grads[i], first.grads[i])) << i;
      }
    }
  }
}

TEST(GLDNetKernel, SimdTargetsAreListedChosenAndForced) {
  const auto targets = simd_targets();
  ASSERT_FALSE(targets.empty());
  // The last resort runs on every CPU of the architecture: the portable baseline on x86-64, NEON on ARM.
  EXPECT_TRUE(targets.back() == "baseline" || targets.back() == "neon") << targets.back();
  const auto a = sparse_adjacency(synthetic_street_grid(StreetGridOptions{}), AdjacencyNorm::Row);
  const GLDNetShape shape;
  ::unsetenv("CRIMEGRAPH_SIMD");
  EXPECT_EQ(default_simd_target(), targets.front());
  EXPECT_EQ(GLDNetKernel(shape, a, a).simd_target(), targets.front());
  for (const auto& t : targets) {
    EXPECT_EQ(GLDNetKernel(shape, a, a, t).simd_target(), t);
    EXPECT_NE(describe_simd_target(t).find(t), std::string::npos);
  }
  // The environment forces a target on every kernel that is not given one.
  std::string last = targets.back();
  last[0] = static_cast<char>(std::toupper(last[0]));  // names are not case-sensitive
  ::setenv("CRIMEGRAPH_SIMD", last.c_str(), 1);
  EXPECT_EQ(default_simd_target(), targets.back());
  EXPECT_EQ(GLDNetKernel(shape, a, a).simd_target(), targets.back());
  EXPECT_EQ(GLDNetKernel(shape, a, a, targets.front()).simd_target(), targets.front());
  ::setenv("CRIMEGRAPH_SIMD", "avx1024", 1);
  EXPECT_THROW(default_simd_target(), ConfigError);
  EXPECT_THROW(GLDNetKernel(shape, a, a), ConfigError);
  ::unsetenv("CRIMEGRAPH_SIMD");
  EXPECT_THROW(GLDNetKernel(shape, a, a, "avx1024"), ConfigError);
  // A target of this build that the CPU cannot run is refused, not run into an illegal instruction.
  for (const std::string t : {"avx512", "avx2", "sse4"}) {
    if (std::find(targets.begin(), targets.end(), t) != targets.end()) continue;
    try {
      GLDNetKernel(shape, a, a, t);
      ADD_FAILURE() << t << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("cannot run"), std::string::npos) << e.what();
    }
  }
}

TEST_P(KernelOnTarget, LoadsSmoothedWindowsIntoLanes) {
  const auto ds = fixture::small_city(30, 120, 3);
  const TrainingData data(ds);
  const std::int32_t lookback = 6;
  const auto weights = TrainingData::smoothing_weights(lookback);
  GLDNetShape shape;
  shape.inputs = data.smoothed_width();
  const auto a = sparse_adjacency(ds.graph, AdjacencyNorm::Row);
  GLDNetKernel kernel(shape, a, a, GetParam());
  const std::vector<std::int32_t> days = {50, 7, 119};
  kernel.load_windows(data, days.data(), 3, lookback, weights);
  const float* in = kernel.input();
  const std::int32_t n = data.nodes(), c = data.channels();
  for (std::int32_t i = 0; i < n; ++i)
    for (int s = 0; s < TrainingData::kSmoothingScales; ++s)
      for (std::int32_t ch = 0; ch < c; ++ch) {
        for (int l = 0; l < kLanes; ++l) {
          double expect = 0.0;
          if (l < 3) {
            for (std::int32_t d = 0; d < lookback; ++d) {
              const auto day = days[static_cast<std::size_t>(l)] - lookback + d;
              expect += weights[static_cast<std::size_t>(s * lookback + d)] *
                        ds.features[(static_cast<std::size_t>(day) * n + i) * c + ch];
            }
          }
          ASSERT_NEAR(in[((i * shape.inputs) + s * c + ch) * kLanes + l], expect, 1e-5)
              << "node " << i << " scale " << s << " channel " << ch << " lane " << l;
        }
      }
  std::vector<float> labels(static_cast<std::size_t>(n) * kLanes);
  load_labels(data, days.data(), 3, labels.data());
  for (std::int32_t i = 0; i < n; ++i) {
    EXPECT_EQ(labels[static_cast<std::size_t>(i) * kLanes + 1], data.label_of_day(7)[i]);
    EXPECT_EQ(labels[static_cast<std::size_t>(i) * kLanes + 3], 0.0f);
  }
  EXPECT_THROW(kernel.load_windows(data, days.data(), kLanes + 1, lookback, weights), std::invalid_argument);
}

// The estimates behind the memory warnings are the buffers themselves, whatever the shape.
TEST(GLDNetKernel, MemoryEstimatesAreWhatIsAllocated) {
  const auto ds = fixture::small_city(30, 120, 3);
  const TrainingData data(ds);
  const auto a = sparse_adjacency(ds.graph, AdjacencyNorm::Row);
  const std::int32_t lookback = 6;
  const auto weights = TrainingData::smoothing_weights(lookback);
  const std::vector<std::int32_t> days = {50, 7};
  struct Case { std::int64_t gated_layers, gated_units, ldn_layers, ldn_units; };
  for (const auto& c : {Case{2, 8, 5, 4}, Case{4, 64, 3, 96}, Case{1, 16, 4, 8}, Case{3, 2, 1, 16}, Case{0, 8, 2, 16},
                        Case{2, 16, 0, 4}}) {
    GLDNetShape shape;
    shape.inputs = data.smoothed_width();
    shape.gated_layers = c.gated_layers;
    shape.gated_units = c.gated_units;
    shape.ldn_layers = c.ldn_layers;
    shape.ldn_units = c.ldn_units;
    const auto what = ::testing::PrintToString(std::vector<std::int64_t>{c.gated_layers, c.gated_units, c.ldn_layers, c.ldn_units});
    EXPECT_EQ(gldnet_parameter_count(shape), GLDNetParameters(shape, 1).count()) << what;
    GLDNetKernel kernel(shape, a, a);
    kernel.load_windows(data, days.data(), 2, lookback, weights);  // from the raw days: allocates the scratch
    EXPECT_EQ(GLDNetKernel::memory_bytes(shape, data.nodes()), kernel.allocated_bytes()) << what;
    const GLDNetGradients sums(shape);
    EXPECT_EQ(GLDNetGradients::memory_bytes(shape), sums.allocated_bytes()) << what;
  }
}

// The table is made once by the default target; every target's kernel loads from it exactly
// what it smooths from the raw days.
TEST_P(KernelOnTarget, CachedSmoothedWindowsLoadBitForBit) {
  const auto ds = fixture::small_city(30, 120, 3);
  const TrainingData plain(ds);
  TrainingData cached(ds);
  const std::int32_t lookback = 6;
  cached.cache_smoothed_windows(lookback);
  const std::int32_t n = plain.nodes();
  const std::size_t width = static_cast<std::size_t>(n) * plain.smoothed_width();
  EXPECT_EQ(cached.cached_bytes(), static_cast<std::size_t>(plain.days()) * width * sizeof(float));
  EXPECT_EQ(plain.smoothed_table_bytes(), cached.cached_bytes());  // the size told before the table is made
  EXPECT_EQ(cached.cached_smoothed_window(50, lookback + 1), nullptr);
  EXPECT_EQ(plain.cached_smoothed_window(50, lookback), nullptr);
  EXPECT_THROW(cached.cached_smoothed_window(lookback - 1, lookback), DataError);

  GLDNetShape shape;
  shape.inputs = plain.smoothed_width();
  const auto a = sparse_adjacency(ds.graph, AdjacencyNorm::Row);
  GLDNetKernel from_raw(shape, a, a, GetParam()), from_cache(shape, a, a, GetParam());
  const auto weights = TrainingData::smoothing_weights(lookback);
  // A partial group with the first and last windows, then a full one.
  for (const std::vector<std::int32_t>& days :
       {std::vector<std::int32_t>{50, lookback, 119, 8, 30},
        std::vector<std::int32_t>{6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}}) {
    const int count = static_cast<int>(days.size());
    from_raw.load_windows(plain, days.data(), count, lookback, weights);
    from_cache.load_windows(cached, days.data(), count, lookback, weights);
    for (std::size_t i = 0; i < width * kLanes; ++i) {
      ASSERT_EQ(from_cache.input()[i], from_raw.input()[i]) << "element " << i;
    }
    // The table itself holds what the kernel smooths, window by window.
    for (int k = 0; k < count; ++k) {
      const float* row = cached.cached_smoothed_window(days[static_cast<std::size_t>(k)], lookback);
      ASSERT_NE(row, nullptr);
      for (std::size_t m = 0; m < width; ++m) ASSERT_EQ(row[m], from_raw.input()[m * kLanes + k]) << "window " << k;
    }
  }
  // Other weights than the cache's are smoothed from the raw days.
  std::vector<float> other(weights.size(), 1.0f / lookback);
  const std::vector<std::int32_t> days = {40};
  from_raw.load_windows(plain, days.data(), 1, lookback, other);
  from_cache.load_windows(cached, days.data(), 1, lookback, other);
  for (std::size_t i = 0; i < width * kLanes; ++i) ASSERT_EQ(from_cache.input()[i], from_raw.input()[i]);
}

TEST(GLDNetKernel, SubnormalInputsBecomeZerosAndTheCallersFloatModeIsKept) {
  auto ds = fixture::small_city(30, 120, 3);
  const std::int32_t n = ds.nodes(), c = ds.channel_count(), lookback = 6;
  const std::size_t at = (static_cast<std::size_t>(40) * n + 5) * c + 1;  // day 40, node 5, channel 1
  ds.features[at] = 1e-40f;                                                 // subnormal
  ds.features[at + 1] = 2.5f;
  const TrainingData data(ds);
  const float* day40 = data.window_begin(40 + lookback, lookback);
  EXPECT_EQ(day40[(5 * c) + 1], 0.0f);
  EXPECT_EQ(day40[(5 * c) + 2], 2.5f);

#if defined(__SSE__)
  // The kernel flushes subnormals while it runs and restores the caller's MXCSR after.
  const unsigned before = _mm_getcsr();
  GLDNetShape shape;
  shape.inputs = data.smoothed_width();
  const auto a = sparse_adjacency(ds.graph, AdjacencyNorm::Row);
  GLDNetKernel kernel(shape, a, a);
  const std::vector<std::int32_t> days = {50, 60};
  kernel.load_windows(data, days.data(), 2, lookback, TrainingData::smoothing_weights(lookback));
  EXPECT_EQ(_mm_getcsr(), before);
#endif
}

TEST(GLDNetKernel, LossSumMatchesHandComputation) {
  // Two nodes, lanes 0 and 1 used: w = rho where y = 0, y elsewhere.
  std::vector<float> p(2 * kLanes, 0.5f), y(2 * kLanes, 0.0f), grad(2 * kLanes, -1.0f);
  y[0] = 2.0f;  // node 0 lane 0
  p[kLanes + 1] = 0.1f;  // node 1 lane 1, y = 0
  y[kLanes + 2] = 3.0f;  // lane 2 is unused: ignored
  const double rho = 0.03;
  const double expect = 2.0 * 1.5 * 1.5 + rho * 0.25 + rho * 0.25 + rho * 0.01;
  EXPECT_NEAR(weighted_squared_error_sum(p.data(), y.data(), 2, 2, rho, 0.5f, grad.data()), expect, 1e-6);
  EXPECT_NEAR(grad[0], 0.5 * 2 * 2.0 * (0.5 - 2.0), 1e-6);
  EXPECT_NEAR(grad[kLanes + 1], 0.5 * 2 * rho * 0.1, 1e-7);
  EXPECT_EQ(grad[kLanes + 2], 0.0f);
}
