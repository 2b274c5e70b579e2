#include <gtest/gtest.h>

#include "crimegraph/data/synthetic_city.hpp"
#include "crimegraph/model/gldnet_parameters.hpp"
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
ParameterTensor as_parameter(const torch::Tensor& t) {
  const auto c = t.detach().contiguous();
  std::vector<float> v(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return {"p", c.sizes().vec(), v, std::vector<float>(v.size(), 0.0f)};
}
}  // namespace

TEST(Adam, StepsAsLibTorchAdam) {
  for (const auto& [lr, beta1, beta2, eps] : {std::tuple{0.01, 0.9, 0.999, 1e-8}, std::tuple{0.003, 0.8, 0.99, 1e-6}}) {
    torch::manual_seed(5);
    std::vector<torch::Tensor> reference = {torch::randn({7}).requires_grad_(), torch::randn({3, 5}).requires_grad_()};
    std::vector<ParameterTensor> ours;
    for (const auto& t : reference) ours.push_back(as_parameter(t));
    torch::optim::Adam adam(reference, torch::optim::AdamOptions(lr).betas({beta1, beta2}).eps(eps));
    Adam plain(ours, {lr, beta1, beta2, eps});
    for (int k = 0; k < 40; ++k) {
      for (std::size_t i = 0; i < reference.size(); ++i) {
        // Gradients of both signs and of very different sizes, as late in training.
        const auto g = torch::randn(reference[i].sizes()) * std::pow(10.0, (k % 5) - 3);
        reference[i].mutable_grad() = g.clone();
        ours[i].grad = as_parameter(g).value;
      }
      adam.step();
      plain.step(ours);
    }
    EXPECT_EQ(plain.steps(), 40);
    for (std::size_t i = 0; i < reference.size(); ++i) {
      const auto expect = as_parameter(reference[i]).value;
      // 40 steps move every element: equal values cannot mean "nothing happened".
      EXPECT_NE(expect, as_parameter(torch::zeros_like(reference[i])).value);
      for (std::size_t j = 0; j < expect.size(); ++j) EXPECT_NEAR(ours[i].value[j], expect[j], 1e-6) << i << "," << j;
    }
  }
}

TEST(GLDNetParameters, StartFromTheReferenceModulesWeightsBitForBit) {
  GLDNetShape shape;
  shape.inputs = 9;
  shape.gated_layers = 2;
  shape.gated_units = 5;
  shape.ldn_layers = 3;
  shape.ldn_units = 3;
  shape.prior_rate = 0.02;
  for (std::uint64_t seed : {1ull, 77ull, (1ull << 40) + 3}) {
    torch::manual_seed(seed);
    GLDNet reference(shape, std::make_shared<const GraphDiffusion>(SparseAdjacency{}));
    GLDNetParameters ours(shape, seed);
    const auto named = reference->named_parameters();
    ASSERT_EQ(named.size(), ours.tensors().size());
    std::int64_t count = 0;
    for (std::size_t i = 0; i < named.size(); ++i) {
      const auto& t = ours.tensors()[i];
      EXPECT_EQ(t.name, named[i].key());
      EXPECT_EQ(t.sizes, named[i].value().sizes().vec()) << t.name;
      EXPECT_EQ(t.value, as_parameter(named[i].value()).value) << t.name << ", seed " << seed;
      count += named[i].value().numel();
    }
    EXPECT_EQ(ours.count(), count);
    EXPECT_NE(ours.tensors()[0].value, GLDNetParameters(shape, seed + 1).tensors()[0].value);
  }
}

TEST(GLDNetParameters, BindPointsTheKernelAtEachTensorInTheModulesOrder) {
  GLDNetShape shape;
  shape.gated_layers = 1;
  shape.ldn_layers = 2;
  torch::manual_seed(3);
  GLDNet reference(shape, std::make_shared<const GraphDiffusion>(SparseAdjacency{}));
  GLDNetParameters ours(shape, 3);
  const auto theirs = reference->params();
  const auto mine = ours.bind();
  auto same = [](const LinearParams& a, const LinearParams& b, std::size_t weights, std::size_t biases) {
    EXPECT_TRUE(std::equal(a.weight, a.weight + weights, b.weight));
    EXPECT_EQ(a.bias == nullptr, b.bias == nullptr);
    if (a.bias) EXPECT_TRUE(std::equal(a.bias, a.bias + biases, b.bias));
  };
  const auto in = static_cast<std::size_t>(shape.inputs), g = static_cast<std::size_t>(shape.gated_units);
  const auto l = static_cast<std::size_t>(shape.ldn_units);
  same(mine.gated[0], theirs.gated[0], 2 * g * in, 2 * g);
  same(mine.ldn_self[0], theirs.ldn_self[0], l * g, l);
  same(mine.ldn_local[0], theirs.ldn_local[0], l * g, 0);
  same(mine.ldn_self[1], theirs.ldn_self[1], l * l, l);
  same(mine.ldn_local[1], theirs.ldn_local[1], l * l, 0);
  same(mine.output, theirs.output, l, 1);
}
