#pragma once
// GLDNet's weights, their gradients and Adam's moments as plain floats, owned by the trainer.
//
// Training needs no LibTorch: the kernel computes every gradient, and Adam is one loop per
// tensor. Keeping LibTorch out of the trainer keeps it out of every search worker, which
// otherwise pays about 0.6 s of CPU and 40 MB of heap per process to load and register
// LibTorch's operators, a cost that grows with the ranks on a node. LibTorch stays the
// reference the kernel and this initialisation are tested against (model/gldnet.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "crimegraph/model/gldnet_kernel.hpp"

namespace crimegraph {

/// One parameter tensor, named and laid out as in LibTorch's GLDNetImpl.
struct ParameterTensor {
  std::string name;  ///< e.g. "diffusion.0.self.weight"
  std::vector<std::int64_t> sizes;
  std::vector<float> value, grad;
  bool is_bias() const;
};

class GLDNetParameters {
 public:
  /// Keras's initialisation (Glorot-uniform weights, zero biases, the output bias at
  /// logit(prior_rate)) drawn exactly as LibTorch draws it for GLDNetImpl after
  /// torch::manual_seed(seed): the same Mersenne Twister stream, consumed first by each
  /// Linear's own reset (values then overwritten) and then by the Glorot draws, so the trainer
  /// starts from the reference module's weights bit for bit.
  GLDNetParameters(const GLDNetShape& shape, std::uint64_t seed);

  const GLDNetShape& shape() const { return shape_; }
  /// In GLDNetImpl::named_parameters() order.
  std::vector<ParameterTensor>& tensors() { return tensors_; }
  const std::vector<ParameterTensor>& tensors() const { return tensors_; }
  /// Pointers to the values and gradients for GLDNetKernel; valid while this object lives.
  GLDNetParams bind();
  std::int64_t count() const;

 private:
  GLDNetShape shape_;
  std::vector<ParameterTensor> tensors_;
};

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

/// Adam (Kingma & Ba) as LibTorch 1.13 computes it in float, without weight decay or AMSGrad.
class Adam {
 public:
  Adam(const std::vector<ParameterTensor>& like, AdamOptions options);
  /// One update of every tensor from its gradient.
  void step(std::vector<ParameterTensor>& parameters);
  void set_learning_rate(double lr) { options_.learning_rate = lr; }
  std::int64_t steps() const { return steps_; }

  /// The moments, tensor by tensor, for checkpoints.
  std::vector<std::vector<float>>& first_moments() { return m_; }
  std::vector<std::vector<float>>& second_moments() { return v_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }

 private:
  AdamOptions options_;
  std::int64_t steps_ = 0;
  std::vector<std::vector<float>> m_, v_;
};

}  // namespace crimegraph
