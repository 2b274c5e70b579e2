#pragma once
// GLDNet (Zhang & Cheng 2020) in LibTorch. This header includes <torch/torch.h>: only the
// model's own sources and its tests include it.
//
// Activations are node-major, [nodes, batch, features], so the graph diffusion is one sparse
// product with the [nodes, batch x features] view, with no transposes.
#include <torch/torch.h>

#include "crimegraph/data/street_graph.hpp"

namespace crimegraph {

/// y = relu(x W + b) * sigmoid(x U + c); W and U are one fused [in, 2 out] matmul.
struct GatedReluImpl : torch::nn::Module {
  GatedReluImpl(std::int64_t in, std::int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fused{nullptr};
  std::int64_t out_features;
};
TORCH_MODULE(GatedRelu);

/// The sparse street adjacency as a resident COO tensor.
torch::Tensor adjacency_tensor(const SparseAdjacency& adjacency);
/// A x for node-major x of shape [nodes, ...]: one sparse-dense product.
torch::Tensor diffuse(const torch::Tensor& adjacency, const torch::Tensor& x);

/// y = relu(x K_self + (A x) K_local + b); [K_self; K_local] is one fused matmul over [x, A x].
struct LocalDiffusionImpl : torch::nn::Module {
  LocalDiffusionImpl(std::int64_t in, std::int64_t out);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& adjacency);
  torch::nn::Linear fused{nullptr};
};
TORCH_MODULE(LocalDiffusion);

struct GLDNetShape {
  std::int64_t inputs = 12;  ///< temporal summaries per node (smoothing scales x channels)
  std::int64_t gated_layers = 2;
  std::int64_t gated_units = 8;
  std::int64_t ldn_layers = 5;
  std::int64_t ldn_units = 4;
  double prior_rate = 0.01;  ///< the output bias starts at logit(prior): first predictions match the event rate
};

/// Smoothed windows [nodes, batch, inputs] -> probability [nodes, batch]. Weights start as
/// Keras does (Glorot-uniform, zero bias).
struct GLDNetImpl : torch::nn::Module {
  GLDNetImpl(const GLDNetShape& shape, torch::Tensor adjacency);
  torch::Tensor forward(const torch::Tensor& windows);
  GLDNetShape shape;
  torch::Tensor adjacency;  // not a parameter: fixed, resident
  torch::nn::ModuleList gated, diffusion;
  torch::nn::Linear output{nullptr};
};
TORCH_MODULE(GLDNet);

/// The original loss: mean over nodes and windows of w (p - y)^2, with y the day's count,
/// w = y where y > 0 and w = rho elsewhere.
torch::Tensor weighted_squared_error(const torch::Tensor& prediction, const torch::Tensor& label, double rho);

}  // namespace crimegraph
