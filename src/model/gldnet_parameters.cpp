#include "crimegraph/model/gldnet_parameters.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace crimegraph {

bool ParameterTensor::is_bias() const { return name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0; }

namespace {

ParameterTensor tensor(std::string name, std::vector<std::int64_t> sizes) {
  std::int64_t n = 1;
  for (auto s : sizes) n *= s;
  const auto count = static_cast<std::size_t>(n);
  return {std::move(name), std::move(sizes), std::vector<float>(count, 0.0f), std::vector<float>(count, 0.0f)};
}

// LibTorch's uniform_ on a float CPU tensor: 24 random bits of one 32-bit draw per element,
// scaled in float (at::uniform_real_distribution, TransformationHelper.h) with one fused
// multiply-add, as LibTorch's AVX2 and AVX-512 kernels compile it. std::fma rounds once on
// every CPU, so the initial weights do not depend on the machine.
void uniform(std::mt19937& rng, std::vector<float>& out, double bound) {
  const auto from = static_cast<float>(-bound), to = static_cast<float>(bound);
  constexpr float kScale = 1.0f / static_cast<float>(1u << 24);
  for (auto& x : out) {
    const float u = static_cast<float>(rng() & ((1u << 24) - 1)) * kScale;
    x = std::fma(u, to - from, from);
  }
}

}  // namespace

GLDNetParameters::GLDNetParameters(const GLDNetShape& shape, std::uint64_t seed) : shape_(shape) {
  std::int64_t width = shape.inputs;
  for (std::int64_t i = 0; i < shape.gated_layers; ++i) {
    const auto at = "gated." + std::to_string(i) + ".fused.";
    tensors_.push_back(tensor(at + "weight", {2 * shape.gated_units, width}));
    tensors_.push_back(tensor(at + "bias", {2 * shape.gated_units}));
    width = shape.gated_units;
  }
  for (std::int64_t i = 0; i < shape.ldn_layers; ++i) {
    const auto at = "diffusion." + std::to_string(i) + ".";
    tensors_.push_back(tensor(at + "self.weight", {shape.ldn_units, width}));
    tensors_.push_back(tensor(at + "self.bias", {shape.ldn_units}));
    tensors_.push_back(tensor(at + "local.weight", {shape.ldn_units, width}));
    width = shape.ldn_units;
  }
  tensors_.push_back(tensor("output.weight", {1, width}));
  tensors_.push_back(tensor("output.bias", {1}));

  // at::mt19937 seeds from the low 32 bits, as std::mt19937 does. Each torch::nn::Linear's
  // constructor draws once per element of its weight and bias, which are all the tensors here.
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  rng.discard(static_cast<unsigned long long>(count()));
  for (auto& t : tensors_) {
    if (t.is_bias()) continue;  // zeros
    const auto fan_out = static_cast<double>(t.sizes[0]), fan_in = static_cast<double>(t.sizes[1]);
    uniform(rng, t.value, std::sqrt(3.0) * std::sqrt(2.0 / (fan_in + fan_out)));
  }
  const double prior = std::clamp(shape.prior_rate, 1e-6, 0.5);
  tensors_.back().value[0] = static_cast<float>(std::log(prior / (1.0 - prior)));
}

std::int64_t GLDNetParameters::count() const {
  std::int64_t n = 0;
  for (const auto& t : tensors_) n += static_cast<std::int64_t>(t.value.size());
  return n;
}

GLDNetParams GLDNetParameters::bind() {
  auto linear = [](ParameterTensor& weight, ParameterTensor* bias) {
    LinearParams p;
    p.weight = weight.value.data();
    p.grad_weight = weight.grad.data();
    if (bias) {
      p.bias = bias->value.data();
      p.grad_bias = bias->grad.data();
    }
    return p;
  };
  GLDNetParams p;
  std::size_t k = 0;
  for (std::int64_t i = 0; i < shape_.gated_layers; ++i, k += 2) p.gated.push_back(linear(tensors_[k], &tensors_[k + 1]));
  for (std::int64_t i = 0; i < shape_.ldn_layers; ++i, k += 3) {
    p.ldn_self.push_back(linear(tensors_[k], &tensors_[k + 1]));
    p.ldn_local.push_back(linear(tensors_[k + 2], nullptr));
  }
  p.output = linear(tensors_[k], &tensors_[k + 1]);
  return p;
}

Adam::Adam(const std::vector<ParameterTensor>& like, AdamOptions options) : options_(options) {
  for (const auto& t : like) {
    m_.emplace_back(t.value.size(), 0.0f);
    v_.emplace_back(t.value.size(), 0.0f);
  }
}

void Adam::step(std::vector<ParameterTensor>& parameters) {
  ++steps_;
  // The same float operations, in the same order, as LibTorch 1.13's Adam::step.
  const double correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(steps_));
  const double correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(steps_));
  const auto b1 = static_cast<float>(options_.beta1), b2 = static_cast<float>(options_.beta2);
  const auto a1 = static_cast<float>(1.0 - options_.beta1), a2 = static_cast<float>(1.0 - options_.beta2);
  const auto eps = static_cast<float>(options_.eps);
  const auto root2 = static_cast<float>(std::sqrt(correction2));
  const auto step_size = static_cast<float>(options_.learning_rate / correction1);
  for (std::size_t t = 0; t < parameters.size(); ++t) {
    float* w = parameters[t].value.data();
    const float* g = parameters[t].grad.data();
    float* m = m_[t].data();
    float* v = v_[t].data();
    for (std::size_t i = 0, n = m_[t].size(); i < n; ++i) {
      m[i] = m[i] * b1 + a1 * g[i];
      v[i] = v[i] * b2 + a2 * g[i] * g[i];
      w[i] -= step_size * (m[i] / (std::sqrt(v[i]) / root2 + eps));
    }
  }
}

}  // namespace crimegraph
