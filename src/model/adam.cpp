#include "crimegraph/model/adam.hpp"

#include <algorithm>
#include <cmath>

#include <c10/util/string_utils.h>
#include <torch/utils.h>

namespace crimegraph {

namespace {
bool plain_float(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.layout() == torch::kStrided && t.is_contiguous();
}
}  // namespace

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  torch::NoGradGuard no_grad;
  // Adam's own update, the closure already evaluated.
  auto adam_step = [&] {
    Adam::step(nullptr);
    return loss;
  };
  // Each parameter with a gradient and its state (the same key and fresh state as Adam::step,
  // LibTorch 1.13), found once. Anything not plain CPU float (a parameter, its gradient, or
  // state read from a checkpoint) leaves the whole update to Adam::step, which the fresh state
  // created here does not change.
  struct Slot {
    torch::Tensor* p;
    torch::optim::AdamParamState* s;
    const torch::optim::AdamOptions* options;
  };
  std::vector<Slot> slots;
  for (auto& group : param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (!(plain_float(p) && plain_float(p.grad()))) return adam_step();
      auto& slot = state()[c10::guts::to_string(p.unsafeGetTensorImpl())];
      if (!slot) {
        auto fresh = std::make_unique<torch::optim::AdamParamState>();
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        if (options.amsgrad()) fresh->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*slot);
      if (options.amsgrad() && !s.max_exp_avg_sq().defined()) {
        s.max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      }
      const bool plain = plain_float(s.exp_avg()) && plain_float(s.exp_avg_sq()) &&
                         (!s.max_exp_avg_sq().defined() || plain_float(s.max_exp_avg_sq()));
      if (!plain) return adam_step();
      slots.push_back({&p, &s, &options});
    }
  }
  for (const auto& [param, param_state, group_options] : slots) {
    auto& p = *param;
    auto& s = *param_state;
    const auto& options = *group_options;
    const double beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
    s.step(s.step() + 1);
    const double correction1 = 1.0 - std::pow(beta1, static_cast<double>(s.step()));
    const double correction2 = 1.0 - std::pow(beta2, static_cast<double>(s.step()));
    const auto b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
    const auto a1 = static_cast<float>(1.0 - beta1), a2 = static_cast<float>(1.0 - beta2);
    const auto decay = static_cast<float>(options.weight_decay()), eps = static_cast<float>(options.eps());
    const auto root2 = static_cast<float>(std::sqrt(correction2));
    const auto step_size = static_cast<float>(options.lr() / correction1);
    float* w = p.data_ptr<float>();
    const float* g = p.grad().data_ptr<float>();
    float* m = s.exp_avg().data_ptr<float>();
    float* v = s.exp_avg_sq().data_ptr<float>();
    float* v_max = options.amsgrad() ? s.max_exp_avg_sq().data_ptr<float>() : nullptr;
    const std::int64_t count = p.numel();
    for (std::int64_t i = 0; i < count; ++i) {
      const float gi = decay != 0.0f ? g[i] + decay * w[i] : g[i];
      m[i] = m[i] * b1 + a1 * gi;
      v[i] = v[i] * b2 + a2 * gi * gi;
      float second = v[i];
      if (v_max) second = v_max[i] = std::max(v_max[i], v[i]);
      w[i] -= step_size * (m[i] / (std::sqrt(second) / root2 + eps));
    }
  }
  return loss;
}

}  // namespace crimegraph
