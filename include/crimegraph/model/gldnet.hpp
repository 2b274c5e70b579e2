#pragma once
// GLDNet (Zhang & Cheng 2020) in LibTorch. This header includes <torch/torch.h>: only the
// model's own sources and its tests include it.
//
// Activations are node-major, [nodes, batch, features], so the graph diffusion is one sparse
// product with the [nodes, batch x features] view, with no transposes.
#include <torch/torch.h>

#include <memory>

#include "crimegraph/data/street_graph.hpp"
#include "crimegraph/model/gldnet_kernel.hpp"

namespace crimegraph {

/// y = relu(x W + b) * sigmoid(x U + c); W and U are one fused [in, 2 out] matmul.
struct GatedReluImpl : torch::nn::Module {
  GatedReluImpl(std::int64_t in, std::int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fused{nullptr};
  std::int64_t out_features;
};
TORCH_MODULE(GatedRelu);

/// The sparse street adjacency, resident in CSR form with its transpose, and the product
/// A x for node-major x of shape [nodes, ...] as an autograd function (backward: A^T g).
/// A hand-written CSR loop: LibTorch's COO product re-sorts A^T on every backward pass.
class GraphDiffusion {
 public:
  explicit GraphDiffusion(SparseAdjacency adjacency);
  torch::Tensor operator()(const torch::Tensor& x) const;
  const SparseAdjacency& forward_matrix() const { return a_; }
  const SparseAdjacency& transposed_matrix() const { return at_; }

 private:
  SparseAdjacency a_, at_;
};
using Adjacency = std::shared_ptr<const GraphDiffusion>;
/// y = M x over rows of `width` floats: y[i] = sum_k M[i, k] x[k].
void csr_multiply(const SparseAdjacency& m, const float* x, float* y, std::int64_t width);

/// y = relu(x K_self + b + (A x) K_local).
struct LocalDiffusionImpl : torch::nn::Module {
  LocalDiffusionImpl(std::int64_t in, std::int64_t out);
  torch::Tensor forward(const torch::Tensor& x, const GraphDiffusion& adjacency);
  torch::nn::Linear self{nullptr};   ///< K_self and the bias
  torch::nn::Linear local{nullptr};  ///< K_local, no bias
};
TORCH_MODULE(LocalDiffusion);

/// Smoothed windows [nodes, batch, inputs] -> probability [nodes, batch]. Weights start as
/// Keras does (Glorot-uniform, zero bias). Training runs GLDNetKernel on these parameters
/// (params()); forward() here is the autograd reference the kernel is tested against.
struct GLDNetImpl : torch::nn::Module {
  GLDNetImpl(const GLDNetShape& shape, Adjacency adjacency);
  torch::Tensor forward(const torch::Tensor& windows);
  /// Pointers to the parameters and their gradients (allocated on first use) for GLDNetKernel.
  GLDNetParams params();
  GLDNetShape shape;
  Adjacency adjacency;  // not a parameter: fixed, resident
  torch::nn::ModuleList gated, diffusion;
  torch::nn::Linear output{nullptr};
};
TORCH_MODULE(GLDNet);

/// The original loss: mean over nodes and windows of w (p - y)^2, with y the day's count,
/// w = y where y > 0 and w = rho elsewhere.
torch::Tensor weighted_squared_error(const torch::Tensor& prediction, const torch::Tensor& label, double rho);

}  // namespace crimegraph
