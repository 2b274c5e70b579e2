#include "crimegraph/model/gldnet.hpp"

#include <algorithm>
#include <cmath>

namespace crimegraph {

GatedReluImpl::GatedReluImpl(std::int64_t in, std::int64_t out) : out_features(out) {
  fused = register_module("fused", torch::nn::Linear(in, 2 * out));
}

torch::Tensor GatedReluImpl::forward(const torch::Tensor& x) {
  // One GEMM for both halves on the 2-D view; the halves are made contiguous before the
  // activations, which are several times slower on strided views.
  const auto rows = x.reshape({-1, x.size(-1)});
  const auto z = torch::addmm(fused->bias, rows, fused->weight.t());
  const auto gate = z.narrow(1, out_features, out_features).contiguous();
  const auto value = z.narrow(1, 0, out_features).contiguous();
  auto out_shape = x.sizes().vec();
  out_shape.back() = out_features;
  return (torch::relu(value) * torch::sigmoid(gate)).view(out_shape);
}

torch::Tensor adjacency_tensor(const SparseAdjacency& a) {
  std::vector<std::int64_t> rows, cols;
  rows.reserve(a.col.size());
  cols.reserve(a.col.size());
  for (std::int32_t r = 0; r < a.nodes; ++r) {
    for (auto k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
      rows.push_back(r);
      cols.push_back(a.col[k]);
    }
  }
  const auto n = static_cast<std::int64_t>(rows.size());
  auto indices = torch::empty({2, n}, torch::kLong);
  std::copy(rows.begin(), rows.end(), indices[0].data_ptr<std::int64_t>());
  std::copy(cols.begin(), cols.end(), indices[1].data_ptr<std::int64_t>());
  auto values = torch::from_blob(const_cast<float*>(a.value.data()), {n}, torch::kFloat).clone();
  return torch::sparse_coo_tensor(indices, values, {a.nodes, a.nodes}).coalesce();
}

torch::Tensor diffuse(const torch::Tensor& adjacency, const torch::Tensor& x) {
  const auto flat = x.reshape({x.size(0), -1});
  return torch::mm(adjacency, flat).view(x.sizes());
}

LocalDiffusionImpl::LocalDiffusionImpl(std::int64_t in, std::int64_t out) {
  fused = register_module("fused", torch::nn::Linear(2 * in, out));
}

torch::Tensor LocalDiffusionImpl::forward(const torch::Tensor& x, const torch::Tensor& adjacency) {
  // [x, A x] [K_self; K_local] + b as two GEMMs into one output, without materialising the cat.
  const auto in = x.size(-1);
  const auto rows = x.reshape({-1, in});
  const auto mixed = diffuse(adjacency, x).reshape({-1, in});
  const auto w = fused->weight;  // [out, 2 in]
  auto z = torch::addmm(fused->bias, rows, w.narrow(1, 0, in).t());
  z = torch::addmm(z, mixed, w.narrow(1, in, in).t());
  auto out_shape = x.sizes().vec();
  out_shape.back() = w.size(0);
  return torch::relu(z).view(out_shape);
}

GLDNetImpl::GLDNetImpl(const GLDNetShape& s, torch::Tensor a) : shape(s), adjacency(std::move(a)) {
  gated = register_module("gated", torch::nn::ModuleList());
  diffusion = register_module("diffusion", torch::nn::ModuleList());
  std::int64_t width = s.inputs;
  for (std::int64_t i = 0; i < s.gated_layers; ++i) {
    gated->push_back(GatedRelu(width, s.gated_units));
    width = s.gated_units;
  }
  for (std::int64_t i = 0; i < s.ldn_layers; ++i) {
    diffusion->push_back(LocalDiffusion(width, s.ldn_units));
    width = s.ldn_units;
  }
  output = register_module("output", torch::nn::Linear(width, 1));
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    if (p.key().find("bias") != std::string::npos) torch::nn::init::zeros_(p.value());
    else torch::nn::init::xavier_uniform_(p.value());
  }
  const double prior = std::clamp(s.prior_rate, 1e-6, 0.5);
  output->bias.fill_(std::log(prior / (1.0 - prior)));
}

torch::Tensor GLDNetImpl::forward(const torch::Tensor& windows) {
  auto x = windows;
  for (const auto& layer : *gated) x = layer->as<GatedRelu>()->forward(x);
  for (const auto& layer : *diffusion) x = layer->as<LocalDiffusion>()->forward(x, adjacency);
  const auto rows = x.reshape({-1, x.size(-1)});
  return torch::sigmoid(torch::addmm(output->bias, rows, output->weight.t())).view({x.size(0), x.size(1)});
}

torch::Tensor weighted_squared_error(const torch::Tensor& prediction, const torch::Tensor& label, double rho) {
  const auto weight = torch::where(label > 0, label, torch::full_like(label, rho));
  return (weight * (prediction - label).square()).mean();
}

}  // namespace crimegraph
