#include <gtest/gtest.h>

#include "crimegraph/data/synthetic_city.hpp"
#include "crimegraph/model/adam.hpp"
#include "crimegraph/model/gldnet.hpp"

using namespace crimegraph;

namespace {
// A 4-node path 0-1-2-3 with unit weights.
StreetGraph path_graph() {
  StreetGraph g;
  for (int i = 0; i < 4; ++i) {
    g.source_id.push_back(i);
    g.name.push_back("s" + std::to_string(i));
    g.x.push_back(i);
    g.y.push_back(0);
    g.lon.push_back(0);
    g.lat.push_back(0);
    g.length_m.push_back(100);
  }
  g.edges = {{0, 1, 0.0, 1.0}, {1, 2, 0.0, 1.0}, {2, 3, 0.0, 1.0}};
  return g;
}
}  // namespace

TEST(GLDNet, GatedReluMatchesHandComputation) {
  GatedRelu layer(2, 1);
  torch::NoGradGuard no_grad;
  // Rows of the fused weight: [W; U], so z = [x.W + b, x.U + c].
  layer->fused->weight.copy_(torch::tensor({{1.0f, 2.0f}, {0.5f, -1.0f}}));
  layer->fused->bias.copy_(torch::tensor({-1.0f, 0.0f}));
  const auto x = torch::tensor({{1.0f, 1.0f}, {0.0f, 0.2f}, {3.0f, 1.0f}});
  const auto y = layer->forward(x);
  auto expect = [](float a, float b) { return std::max(0.0f, a) / (1.0f + std::exp(-b)); };
  EXPECT_NEAR(y[0][0].item<float>(), expect(2.0f, -0.5f), 1e-6);
  EXPECT_NEAR(y[1][0].item<float>(), expect(-0.6f, -0.2f), 1e-6);  // relu cuts it to 0
  EXPECT_NEAR(y[2][0].item<float>(), expect(4.0f, 0.5f), 1e-6);
}

TEST(GLDNet, DiffusionLayerMatchesHandComputation) {
  const GraphDiffusion a(sparse_adjacency(path_graph(), AdjacencyNorm::Row));
  LocalDiffusion layer(1, 1);
  torch::NoGradGuard no_grad;
  layer->self->weight.fill_(2.0f);  // K_self = 2
  layer->local->weight.fill_(1.0f);  // K_local = 1
  layer->self->bias.fill_(-0.5f);
  // Node-major [4 nodes, 1 window, 1 feature].
  const auto x = torch::tensor({1.0f, 0.0f, 4.0f, -3.0f}).view({4, 1, 1});
  const auto y = layer->forward(x, a).flatten();
  // Row-normalised A x: node0 -> x1 = 0; node1 -> (x0+x2)/2 = 2.5; node2 -> (x1+x3)/2 = -1.5; node3 -> x2 = 4.
  const float expect[] = {std::max(0.0f, 2 * 1.0f + 0.0f - 0.5f), std::max(0.0f, 0.0f + 2.5f - 0.5f),
                          std::max(0.0f, 8.0f - 1.5f - 0.5f), std::max(0.0f, -6.0f + 4.0f - 0.5f)};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i].item<float>(), expect[i], 1e-6) << i;
}

TEST(GLDNet, SparseDiffusionEqualsDense) {
  // A random graph with asymmetric (row-normalised) weights, against a dense matrix product,
  // forward and backward (the backward needs A^T).
  StreetGridOptions o;
  o.nodes = 40;
  const auto adjacency = sparse_adjacency(synthetic_street_grid(o), AdjacencyNorm::Row);
  const GraphDiffusion sparse(adjacency);
  auto dense = torch::zeros({adjacency.nodes, adjacency.nodes});
  for (std::int32_t r = 0; r < adjacency.nodes; ++r)
    for (auto k = adjacency.row_ptr[r]; k < adjacency.row_ptr[r + 1]; ++k) dense[r][adjacency.col[k]] = adjacency.value[k];
  EXPECT_EQ(adjacency.nnz(), static_cast<std::int64_t>((dense != 0).sum().item<std::int64_t>()));
  torch::manual_seed(3);
  const auto x = torch::randn({adjacency.nodes, 5, 3}, torch::requires_grad());
  const auto x2 = x.detach().clone().requires_grad_(true);
  const auto y = sparse(x);
  const auto expect = torch::matmul(dense, x2.reshape({adjacency.nodes, 15})).view({adjacency.nodes, 5, 3});
  EXPECT_TRUE(torch::allclose(y, expect, 1e-5, 1e-6));
  const auto weights = torch::randn({adjacency.nodes, 5, 3});
  (y * weights).sum().backward();
  (expect * weights).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), x2.grad(), 1e-5, 1e-6));
}

TEST(GLDNet, ShapesAndProbabilities) {
  const auto a = std::make_shared<const GraphDiffusion>(sparse_adjacency(path_graph()));
  GLDNetShape shape;
  shape.inputs = 12;
  GLDNet net(shape, a);
  const auto y = net->forward(torch::rand({4, 7, 12}));
  ASSERT_EQ(y.sizes(), (std::vector<std::int64_t>{4, 7}));
  EXPECT_TRUE((y > 0).all().item<bool>());
  EXPECT_TRUE((y < 1).all().item<bool>());
  // The output bias starts at the prior: zero input gives about the prior rate.
  shape.prior_rate = 0.02;
  GLDNet prior(shape, a);
  EXPECT_NEAR(prior->forward(torch::zeros({4, 1, 12}))[0][0].item<float>(), 0.02, 1e-6);
}

TEST(GLDNet, LossMatchesHandComputation) {
  const auto p = torch::tensor({0.5f, 0.1f, 0.9f, 0.0f});
  const auto y = torch::tensor({0.0f, 2.0f, 1.0f, 0.0f});
  // w = rho, 2, 1, rho; mean of w (p - y)^2.
  const double rho = 0.03;
  const double expect = (rho * 0.25 + 2 * 1.9 * 1.9 + 1 * 0.01 + 0.0) / 4;
  EXPECT_NEAR(weighted_squared_error(p, y, rho).item<double>(), expect, 1e-6);
}

namespace {
// Runs `steps` Adam steps on copies of the same parameters with the same gradients in
// LibTorch's Adam and in FusedAdam, then hands both optimizers to `check`.
template <typename Check>
void compare_adam(const torch::optim::AdamOptions& options, int steps, Check check) {
  torch::manual_seed(5);
  const std::vector<torch::Tensor> start = {torch::randn({7}), torch::randn({3, 5})};
  std::vector<torch::Tensor> reference, fused;
  for (const auto& t : start) {
    reference.push_back(t.clone().requires_grad_());
    fused.push_back(t.clone().requires_grad_());
  }
  torch::optim::Adam adam(reference, options);
  FusedAdam fused_adam(fused, options);
  for (int k = 0; k < steps; ++k) {
    for (std::size_t i = 0; i < start.size(); ++i) {
      // Gradients of both signs and of very different sizes, as late in training.
      const auto g = torch::randn(start[i].sizes()) * std::pow(10.0, (k % 5) - 3);
      reference[i].mutable_grad() = g.clone();
      fused[i].mutable_grad() = g.clone();
    }
    adam.step();
    fused_adam.step();
  }
  check(adam, fused_adam, reference, fused);
}

void expect_close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-6)) << "parameter " << i << "\n" << a[i] << "\n" << b[i];
  }
}
}  // namespace

TEST(FusedAdam, StepsAsLibTorchAdam) {
  for (const auto& options : {torch::optim::AdamOptions(0.01),
                              torch::optim::AdamOptions(0.003).betas({0.8, 0.99}).eps(1e-6),
                              torch::optim::AdamOptions(0.01).weight_decay(0.1).amsgrad(true)}) {
    compare_adam(options, 40, [](auto&, auto&, const std::vector<torch::Tensor>& reference,
                                  const std::vector<torch::Tensor>& fused) {
      // 40 steps of lr 0.01 move every element: equal values cannot mean "nothing happened".
      EXPECT_GT((reference[0] - torch::zeros({7})).abs().sum().item<float>(), 0.0f);
      expect_close(reference, fused);
    });
  }
}

TEST(FusedAdam, LeavesOtherTensorsToAdamsOwnStep) {
  // A double parameter beside a float one: the whole update is Adam's, the closure run once.
  auto run = [](auto make) {
    std::vector<torch::Tensor> params = {torch::ones({5}, torch::kDouble).requires_grad_(),
                                         torch::ones({3}).requires_grad_()};
    auto optimizer = make(params);
    int closures = 0;
    for (int k = 0; k < 5; ++k) {
      optimizer.step([&] {
        ++closures;
        optimizer.zero_grad();
        auto loss = (params[0] * params[0]).sum() + (params[1] * 3.0).sum();
        loss.backward();
        return loss;
      });
    }
    EXPECT_EQ(closures, 5);
    return params;
  };
  const auto reference = run([](auto& p) { return torch::optim::Adam(p, torch::optim::AdamOptions(0.1)); });
  const auto fused = run([](auto& p) { return FusedAdam(p, torch::optim::AdamOptions(0.1)); });
  EXPECT_LT(reference[0].max().item<double>(), 0.6);
  for (std::size_t i = 0; i < reference.size(); ++i) EXPECT_TRUE(torch::equal(reference[i], fused[i])) << i;
}

TEST(FusedAdam, CheckpointsAreAdamCheckpoints) {
  compare_adam(torch::optim::AdamOptions(0.01), 10, [](auto& adam, auto& fused_adam, auto& reference, auto& fused) {
    // Each optimizer's state, saved, loads into the other kind on fresh copies of the
    // parameters; ten more steps then agree, which they would not if a moment were lost.
    auto swap_state = [](const torch::optim::Optimizer& from, torch::optim::Optimizer& to) {
      torch::serialize::OutputArchive out;
      from.save(out);
      std::ostringstream os;
      out.save_to(os);
      torch::serialize::InputArchive in;
      std::istringstream is(os.str());
      in.load_from(is);
      to.load(in);
    };
    std::vector<torch::Tensor> a, b;
    for (std::size_t i = 0; i < reference.size(); ++i) {
      a.push_back(reference[i].detach().clone().requires_grad_());
      b.push_back(fused[i].detach().clone().requires_grad_());
    }
    FusedAdam fused_from_adam(a, torch::optim::AdamOptions(0.01));
    torch::optim::Adam adam_from_fused(b, torch::optim::AdamOptions(0.01));
    swap_state(adam, fused_from_adam);
    swap_state(fused_adam, adam_from_fused);
    torch::manual_seed(9);
    for (int k = 0; k < 10; ++k) {
      for (std::size_t i = 0; i < a.size(); ++i) {
        const auto g = torch::randn(a[i].sizes()) * 0.01;
        a[i].mutable_grad() = g.clone();
        b[i].mutable_grad() = g.clone();
      }
      fused_from_adam.step();
      adam_from_fused.step();
    }
    expect_close(a, b);
  });
}
