#include "crimegraph/model/gldnet.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace crimegraph {

GatedReluImpl::GatedReluImpl(std::int64_t in, std::int64_t out) : out_features(out) {
  fused = register_module("fused", torch::nn::Linear(in, 2 * out));
}

namespace {

// exp(x) in float with a relative error below 2e-7, written so that the compiler vectorises the
// loops that call it (a call to std::exp stops vectorisation): Cody-Waite range reduction and
// the Cephes polynomial.
inline float vector_exp(float x) {
  x = std::min(88.0f, std::max(-87.0f, x));
  // Round to nearest by the 1.5 * 2^23 trick: std::nearbyint is a library call that blocks
  // vectorisation.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// relu(a) * sigmoid(b) for z = [a | b] row by row, forward and backward in one pass each:
// as separate LibTorch ops (narrow, relu, sigmoid, mul and their backwards, which zero-fill
// and copy the full [rows, 2H] gradient) this was a third of the training time.
struct GatedActivation : torch::autograd::Function<GatedActivation> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& z) {
    const auto zc = z.contiguous();
    const std::int64_t rows = zc.size(0), h = zc.size(1) / 2;
    auto y = torch::empty({rows, h});
    auto gate = torch::empty({rows, h});
    const float* __restrict in = zc.data_ptr<float>();
    float* __restrict out = y.data_ptr<float>();
    float* __restrict sig = gate.data_ptr<float>();
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* __restrict a = in + r * 2 * h;
      const float* __restrict b = a + h;
#pragma GCC ivdep
      for (std::int64_t j = 0; j < h; ++j) {
        const float s = 1.0f / (1.0f + vector_exp(-b[j]));
        sig[r * h + j] = s;
        out[r * h + j] = std::max(a[j], 0.0f) * s;
      }
    }
    ctx->save_for_backward({zc, gate});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& z = saved[0];
    const auto g = grads[0].contiguous();
    const std::int64_t rows = z.size(0), h = z.size(1) / 2;
    auto dz = torch::empty_like(z);
    const float* __restrict in = z.data_ptr<float>();
    const float* __restrict sig = saved[1].data_ptr<float>();
    const float* __restrict dy = g.data_ptr<float>();
    float* __restrict out = dz.data_ptr<float>();
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* __restrict a = in + r * 2 * h;
      float* __restrict da = out + r * 2 * h;
      float* __restrict db = da + h;
#pragma GCC ivdep
      for (std::int64_t j = 0; j < h; ++j) {
        const float s = sig[r * h + j], d = dy[r * h + j];
        da[j] = a[j] > 0.0f ? d * s : 0.0f;
        db[j] = d * std::max(a[j], 0.0f) * s * (1.0f - s);
      }
    }
    return {dz};
  }
};

}  // namespace

torch::Tensor GatedReluImpl::forward(const torch::Tensor& x) {
  // One GEMM for both halves on the 2-D view, then the fused activation.
  const auto rows = x.reshape({-1, x.size(-1)});
  const auto z = torch::addmm(fused->bias, rows, fused->weight.t());
  auto out_shape = x.sizes().vec();
  out_shape.back() = out_features;
  return GatedActivation::apply(z).view(out_shape);
}

namespace {

struct DiffusionFunction : torch::autograd::Function<DiffusionFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, std::int64_t op) {
    ctx->saved_data["op"] = op;
    const auto* g = reinterpret_cast<const GraphDiffusion*>(op);
    const auto in = x.contiguous();
    auto y = torch::empty_like(in);
    csr_multiply(g->forward_matrix(), in.data_ptr<float>(), y.data_ptr<float>(), in.numel() / in.size(0));
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto* g = reinterpret_cast<const GraphDiffusion*>(ctx->saved_data["op"].toInt());
    const auto grad = grads[0].contiguous();
    auto dx = torch::empty_like(grad);
    csr_multiply(g->transposed_matrix(), grad.data_ptr<float>(), dx.data_ptr<float>(), grad.numel() / grad.size(0));
    return {dx, torch::Tensor()};
  }
};

}  // namespace

void csr_multiply(const SparseAdjacency& m, const float* x, float* y, std::int64_t width) {
  const auto w = static_cast<std::size_t>(width);
  for (std::int32_t r = 0; r < m.nodes; ++r) {
    float* __restrict out = y + static_cast<std::size_t>(r) * w;
    std::fill(out, out + w, 0.0f);
    for (auto k = m.row_ptr[r]; k < m.row_ptr[r + 1]; ++k) {
      const float v = m.value[static_cast<std::size_t>(k)];
      const float* __restrict in = x + static_cast<std::size_t>(m.col[static_cast<std::size_t>(k)]) * w;
      for (std::size_t j = 0; j < w; ++j) out[j] += v * in[j];
    }
  }
}

GraphDiffusion::GraphDiffusion(SparseAdjacency adjacency) : a_(std::move(adjacency)), at_(transposed(a_)) {}

torch::Tensor GraphDiffusion::operator()(const torch::Tensor& x) const {
  if (x.size(0) != a_.nodes) throw std::invalid_argument("diffusion input has the wrong number of nodes");
  return DiffusionFunction::apply(x, reinterpret_cast<std::int64_t>(this));
}

LocalDiffusionImpl::LocalDiffusionImpl(std::int64_t in, std::int64_t out) {
  self = register_module("self", torch::nn::Linear(torch::nn::LinearOptions(in, out)));
  local = register_module("local", torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)));
}

torch::Tensor LocalDiffusionImpl::forward(const torch::Tensor& x, const GraphDiffusion& adjacency) {
  // x K_self + b + (A x) K_local as two GEMMs accumulating into one output.
  const auto in = x.size(-1);
  const auto rows = x.reshape({-1, in});
  const auto mixed = adjacency(x).reshape({-1, in});
  const auto z = torch::addmm(torch::addmm(self->bias, rows, self->weight.t()), mixed, local->weight.t());
  auto out_shape = x.sizes().vec();
  out_shape.back() = self->weight.size(0);
  return torch::relu(z).view(out_shape);
}

GLDNetImpl::GLDNetImpl(const GLDNetShape& s, Adjacency a) : shape(s), adjacency(std::move(a)) {
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
  for (const auto& layer : *diffusion) x = layer->as<LocalDiffusion>()->forward(x, *adjacency);
  const auto rows = x.reshape({-1, x.size(-1)});
  return torch::sigmoid(torch::addmm(output->bias, rows, output->weight.t())).view({x.size(0), x.size(1)});
}

GLDNetParams GLDNetImpl::params() {
  auto bind = [](torch::Tensor& weight, torch::Tensor* bias) {
    auto grad_of = [](torch::Tensor& t) {
      if (!t.grad().defined()) t.mutable_grad() = torch::zeros_like(t);
      return t.mutable_grad().data_ptr<float>();
    };
    LinearParams p;
    p.weight = weight.data_ptr<float>();
    p.grad_weight = grad_of(weight);
    if (bias) {
      p.bias = bias->data_ptr<float>();
      p.grad_bias = grad_of(*bias);
    }
    return p;
  };
  GLDNetParams p;
  for (const auto& layer : *gated) {
    auto& fused = layer->as<GatedRelu>()->fused;
    p.gated.push_back(bind(fused->weight, &fused->bias));
  }
  for (const auto& layer : *diffusion) {
    auto* ldn = layer->as<LocalDiffusion>();
    p.ldn_self.push_back(bind(ldn->self->weight, &ldn->self->bias));
    p.ldn_local.push_back(bind(ldn->local->weight, nullptr));
  }
  p.output = bind(output->weight, &output->bias);
  return p;
}

torch::Tensor weighted_squared_error(const torch::Tensor& prediction, const torch::Tensor& label, double rho) {
  const auto weight = torch::where(label > 0, label, torch::full_like(label, rho));
  return (weight * (prediction - label).square()).mean();
}

}  // namespace crimegraph
