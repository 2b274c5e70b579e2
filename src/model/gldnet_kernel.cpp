#include "crimegraph/model/gldnet_kernel.hpp"

#include <hwy/targets.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/model/training_data.hpp"
#include "model/gldnet_kernel_state.hpp"

namespace crimegraph {

namespace detail {

namespace {

// The compiled targets this CPU runs, best first (the CPU does not change while we run).
const std::vector<const KernelTarget*>& runnable_targets() {
  static const auto runnable = [] {
    const std::int64_t supported = hwy::SupportedTargets();
    std::vector<const KernelTarget*> out;
    for (const auto* t : compiled_kernel_targets())
      if (supported & t->hwy_bits) out.push_back(t);
    return out;
  }();
  return runnable;
}

std::string names(const std::vector<const KernelTarget*>& targets) {
  std::string out;
  for (const auto* t : targets) out += (out.empty() ? "" : ", ") + std::string(t->name);
  return out;
}

const KernelTarget& find_target(const std::string& name, const char* what) {
  const auto& runnable = runnable_targets();
  const auto key = to_lower(name);
  for (const auto* t : runnable)
    if (key == t->name) return *t;
  for (const auto* t : compiled_kernel_targets()) {
    if (key == t->name) {
      throw ConfigError(std::string(what) + name + ": this CPU cannot run that SIMD target; it runs " + names(runnable));
    }
  }
  throw ConfigError(std::string(what) + name + ": not a SIMD target of this build; this CPU runs " + names(runnable));
}

}  // namespace

const KernelTarget& kernel_target(const std::string& name) {
  if (!name.empty()) return find_target(name, "SIMD target ");
  const char* forced = std::getenv("CRIMEGRAPH_SIMD");
  if (forced && *forced) return find_target(forced, "CRIMEGRAPH_SIMD=");
  const auto& runnable = runnable_targets();
  if (runnable.empty()) throw std::logic_error("the GLDNet kernel has no target this CPU runs");
  return *runnable.front();
}

}  // namespace detail

std::vector<std::string> simd_targets() {
  std::vector<std::string> out;
  for (const auto* t : detail::runnable_targets()) out.emplace_back(t->name);
  return out;
}

std::string default_simd_target() { return detail::kernel_target("").name; }

std::string describe_simd_target(const std::string& target) {
  const auto& t = detail::kernel_target(target);
  return std::string(t.name) + " (" + std::to_string(t.vector_floats) + (t.vector_floats == 1 ? " float" : " floats") +
         " a vector)";
}

namespace {

using detail::kLanes;
using detail::LaneBlock;
using detail::LaneBuffer;
using detail::kTileNodes;
using detail::sparse_units;

// Subnormal floats cost a microcode assist (a hundred cycles or more) in every operation that
// meets one, and the smoothed inputs are full of them. The trainer sets flush-to-zero on its
// own thread (LibTorch's setFlushDenormal), which leaves out the other intra-op threads and
// callers outside a trainer (the window table took 1.4 s instead of 0.2 s), so the kernel's
// entry points set flush-to-zero and denormals-are-zero themselves and restore the caller's
// MXCSR on the way out.
class FlushDenormals {
 public:
#if defined(__SSE__)
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  static constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
  unsigned saved_;
#endif
};

void reduce_lanes(const LaneBuffer& acc, float* out, bool add) {
  for (std::size_t i = 0; i < acc.size(); ++i) {
    float sum = 0.0f;
    for (int l = 0; l < kLanes; ++l) sum += acc[i].lane[l];
    out[i] = add ? out[i] + sum : sum;
  }
}

}  // namespace

GLDNetGradients::GLDNetGradients(const GLDNetShape& shape) : s_(std::make_unique<detail::GradientSums>()) {
  auto& s = *s_;
  const auto h = static_cast<std::size_t>(shape.gated_units), u = static_cast<std::size_t>(shape.ldn_units);
  auto in = static_cast<std::size_t>(shape.inputs);
  for (std::int64_t l = 0; l < shape.gated_layers; ++l) {
    s.g_gated_w.emplace_back(2 * h * in);
    s.g_gated_b.emplace_back(2 * h);
    in = h;
  }
  for (std::int64_t l = 0; l < shape.ldn_layers; ++l) {
    s.g_self_w.emplace_back(u * in);
    s.g_self_b.emplace_back(u);
    s.g_local_w.emplace_back(u * in);
    in = u;
  }
  s.g_out_w.resize(in);
  s.g_out_b.resize(1);
}

std::int64_t gldnet_parameter_count(const GLDNetShape& shape) {  // as GLDNetParameters lays them out
  std::int64_t n = 0, width = shape.inputs;
  for (std::int64_t i = 0; i < shape.gated_layers; ++i, width = shape.gated_units) n += 2 * shape.gated_units * (width + 1);
  for (std::int64_t i = 0; i < shape.ldn_layers; ++i, width = shape.ldn_units) n += shape.ldn_units * (2 * width + 1);
  return n + width + 1;
}

std::size_t GLDNetGradients::memory_bytes(const GLDNetShape& shape) {
  return sizeof(detail::LaneBlock) * static_cast<std::size_t>(gldnet_parameter_count(shape));
}

std::size_t GLDNetGradients::allocated_bytes() const {
  std::size_t blocks = s_->g_out_w.capacity() + s_->g_out_b.capacity();
  for (const auto* group : {&s_->g_gated_w, &s_->g_gated_b, &s_->g_self_w, &s_->g_self_b, &s_->g_local_w})
    for (const auto& b : *group) blocks += b.capacity();
  return blocks * sizeof(detail::LaneBlock);
}

GLDNetGradients::~GLDNetGradients() = default;
GLDNetGradients::GLDNetGradients(GLDNetGradients&&) noexcept = default;
GLDNetGradients& GLDNetGradients::operator=(GLDNetGradients&&) noexcept = default;

GLDNetKernel::GLDNetKernel(const GLDNetShape& shape, const SparseAdjacency& forward, const SparseAdjacency& transposed,
                           const std::string& simd_target)
    : s_(std::make_unique<detail::KernelState>()) {
  if (shape.inputs < 1 || shape.gated_layers < 0 || shape.ldn_layers < 0 || shape.gated_units < 1 ||
      shape.ldn_units < 1) {
    throw std::invalid_argument("GLDNetKernel: invalid shape");
  }
  if (forward.nodes != transposed.nodes) throw std::invalid_argument("GLDNetKernel: adjacency and transpose differ");
  auto& s = *s_;
  s.target = &detail::kernel_target(simd_target);
  s.shape = shape;
  s.a = &forward;
  s.at = &transposed;
  s.nodes = forward.nodes;
  const auto n = static_cast<std::size_t>(s.nodes);
  const auto h = static_cast<std::size_t>(shape.gated_units), u = static_cast<std::size_t>(shape.ldn_units);
  s.input.assign(n * static_cast<std::size_t>(shape.inputs), LaneBlock{});
  std::size_t widest = static_cast<std::size_t>(shape.inputs);
  for (std::int64_t l = 0; l < shape.gated_layers; ++l) {
    s.gated_y.emplace_back(n * h);
    s.gated_s.emplace_back(n * h);
    widest = std::max(widest, 2 * h);
  }
  if (sparse_units(shape.gated_units)) {
    s.gated_nonzero.assign(static_cast<std::size_t>(shape.gated_layers), std::vector<std::uint32_t>(n));
  }
  for (std::int64_t l = 0; l < shape.ldn_layers; ++l) s.ldn_y.emplace_back(n * u);
  if (sparse_units(shape.ldn_units) && shape.ldn_layers > 1) {
    s.ldn_nonzero.assign(static_cast<std::size_t>(shape.ldn_layers), std::vector<std::uint32_t>(n));
  }
  widest = std::max(widest, u);
  s.local.resize(n * u);
  s.prediction.resize(n);
  if (shape.ldn_layers == 0) s.grad_out.resize(n * widest);
  s.grad_in.resize(n * widest);
  s.grad_z.resize(n * widest);
  s.grad_local.resize(n * u);
  s.grad_prediction.resize(n);
  for (auto& t : s.tile_grad) t.resize(kTileNodes * widest);
  s.tile_dz.resize(kTileNodes * 2 * h);
  s.tile_z.resize(kTileNodes * 2 * h);
}

GLDNetKernel::~GLDNetKernel() = default;
// The buffers the constructor allocates, and load_windows' smoothing scratch; a test holds
// this to allocated_bytes().
std::size_t GLDNetKernel::memory_bytes(const GLDNetShape& shape, std::int64_t nodes) {
  const auto n = static_cast<std::size_t>(nodes), h = static_cast<std::size_t>(shape.gated_units),
             u = static_cast<std::size_t>(shape.ldn_units), in = static_cast<std::size_t>(shape.inputs);
  const auto gated = static_cast<std::size_t>(shape.gated_layers), ldn = static_cast<std::size_t>(shape.ldn_layers);
  const auto widest = std::max({in, gated > 0 ? 2 * h : 0, u});
  std::size_t blocks = n * in;                        // input
  blocks += gated * 2 * n * h;                        // gated_y, gated_s
  blocks += ldn * n * u + 2 * n * u + 2 * n;          // ldn_y; local, grad_local; prediction, grad_prediction
  blocks += (ldn == 0 ? 3 : 2) * n * widest;          // grad_in, grad_z (and grad_out)
  blocks += detail::kTileNodes * (2 * widest + 4 * h);  // tile_grad, tile_dz, tile_z
  blocks += n * in;                                   // smooth_scratch: kLanes x inputs floats per node
  std::size_t bytes = blocks * sizeof(detail::LaneBlock);
  if (detail::sparse_units(shape.gated_units)) bytes += gated * n * sizeof(std::uint32_t);
  if (detail::sparse_units(shape.ldn_units) && ldn > 1) bytes += ldn * n * sizeof(std::uint32_t);
  return bytes;
}

std::size_t GLDNetKernel::allocated_bytes() const {
  const auto& s = *s_;
  std::size_t blocks = 0, words = 0;
  for (const auto* b : {&s.input, &s.tile_z, &s.local, &s.prediction, &s.grad_out, &s.grad_in, &s.grad_z,
                        &s.grad_local, &s.grad_prediction, &s.tile_grad[0], &s.tile_grad[1], &s.tile_dz})
    blocks += b->capacity();
  for (const auto* layers : {&s.gated_y, &s.gated_s, &s.ldn_y})
    for (const auto& b : *layers) blocks += b.capacity();
  for (const auto* layers : {&s.gated_nonzero, &s.ldn_nonzero})
    for (const auto& w : *layers) words += w.capacity();
  return blocks * sizeof(detail::LaneBlock) + words * sizeof(std::uint32_t) + s.smooth_scratch.capacity() * sizeof(float);
}

GLDNetKernel::GLDNetKernel(GLDNetKernel&&) noexcept = default;
GLDNetKernel& GLDNetKernel::operator=(GLDNetKernel&&) noexcept = default;

const GLDNetShape& GLDNetKernel::shape() const { return s_->shape; }
std::int32_t GLDNetKernel::nodes() const { return s_->nodes; }
std::string GLDNetKernel::simd_target() const { return s_->target->name; }
float* GLDNetKernel::input() { return s_->input.data()->lane; }

void GLDNetKernel::load_windows(const TrainingData& data, const std::int32_t* target_days, int count,
                                std::int32_t lookback, const std::vector<float>& weights) {
  auto& s = *s_;
  const FlushDenormals flush;
  const std::int64_t n = data.nodes(), c = data.channels(), scales = TrainingData::kSmoothingScales;
  if (n != s.nodes || scales * c != s.shape.inputs) throw std::invalid_argument("load_windows: data does not fit the model");
  if (count < 0 || count > kLanes) throw std::invalid_argument("load_windows: more windows than lanes");
  if (weights.size() != static_cast<std::size_t>(scales * lookback)) throw std::invalid_argument("load_windows: weights");
  const float* windows[kLanes];
  int cached = 0;
  for (int k = 0; k < count; ++k) {
    windows[k] = data.cached_smoothed_window(target_days[k], lookback);
    cached += windows[k] != nullptr;
  }
  if (cached == count && weights == data.cached_smoothing_weights()) {
    return s.target->rows_into_lanes(windows, count, n * scales * c, input());
  }
  for (int k = 0; k < count; ++k) windows[k] = data.window_begin(target_days[k], lookback);
  s.smooth_scratch.resize(static_cast<std::size_t>(kLanes * scales * n * c));
  s.target->smooth_into_lanes(windows, count, n, c, lookback, weights.data(), input(), s.smooth_scratch.data());
}

const float* GLDNetKernel::forward(const GLDNetParams& params) {
  const FlushDenormals flush;
  s_->target->forward(*s_, params);
  return s_->prediction.data()->lane;
}

void GLDNetKernel::backward(const GLDNetParams& params, const float* grad_prediction, GLDNetGradients& into) {
  const FlushDenormals flush;
  s_->target->backward(*s_, params, grad_prediction, *into.s_);
}

void GLDNetGradients::write(const GLDNetParams& p, bool add) {
  auto& s = *s_;
  auto flush = [add](LaneBuffer& acc, float* out) {
    reduce_lanes(acc, out, add);
    std::fill(acc.begin(), acc.end(), LaneBlock{});
  };
  for (std::size_t l = 0; l < s.g_gated_w.size(); ++l) {
    flush(s.g_gated_w[l], p.gated[l].grad_weight);
    flush(s.g_gated_b[l], p.gated[l].grad_bias);
  }
  for (std::size_t l = 0; l < s.g_self_w.size(); ++l) {
    flush(s.g_self_w[l], p.ldn_self[l].grad_weight);
    flush(s.g_self_b[l], p.ldn_self[l].grad_bias);
    flush(s.g_local_w[l], p.ldn_local[l].grad_weight);
  }
  flush(s.g_out_w, p.output.grad_weight);
  flush(s.g_out_b, p.output.grad_bias);
}

double weighted_squared_error_sum(const float* prediction, const float* label, std::int32_t nodes, int count,
                                  double rho, float scale, float* grad) {
  const FlushDenormals flush;
  double sum = 0.0;
  const auto r = static_cast<float>(rho);
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(nodes) * kLanes; i += kLanes) {
    float node_sum = 0.0f;
    for (int k = 0; k < kLanes; ++k) {
      const float y = label[i + k], d = prediction[i + k] - y, w = y > 0.0f ? y : r;
      const bool used = k < count;
      if (used) node_sum += w * d * d;
      if (grad) grad[i + k] = used ? scale * 2.0f * w * d : 0.0f;
    }
    sum += node_sum;
  }
  return sum;
}

void smooth_window_rows(const TrainingData& data, std::int32_t lookback, std::int32_t first_day, std::int32_t last_day,
                        float* table) {
  const FlushDenormals flush;
  const std::int64_t n = data.nodes(), c = data.channels(), width = n * data.smoothed_width();
  const auto weights = TrainingData::smoothing_weights(lookback);
  const std::int32_t first_window = std::max(first_day, lookback);
  for (std::int32_t t = first_day; t < std::min(last_day, first_window); ++t) {
    std::fill(table + t * width, table + (t + 1) * width, 0.0f);
  }
  const auto& target = detail::kernel_target("");
  LaneBuffer lanes(static_cast<std::size_t>(width));
  std::vector<float> scratch(static_cast<std::size_t>(kLanes * TrainingData::kSmoothingScales * n * c));
  for (std::int32_t t0 = first_window; t0 < last_day; t0 += kLanes) {
    const int count = std::min<std::int32_t>(kLanes, last_day - t0);
    const float* windows[kLanes];
    for (int k = 0; k < count; ++k) windows[k] = data.window_begin(t0 + k, lookback);
    target.smooth_into_lanes(windows, count, n, c, lookback, weights.data(), lanes.data()->lane, scratch.data());
    for (int k = 0; k < count; ++k) {
      float* row = table + static_cast<std::size_t>(t0 + k) * width;
      for (std::int64_t m = 0; m < width; ++m) row[m] = lanes[static_cast<std::size_t>(m)].lane[k];
    }
  }
}

void load_labels(const TrainingData& data, const std::int32_t* target_days, int count, float* out) {
  const std::int64_t n = data.nodes();
  std::fill(out, out + n * kLanes, 0.0f);
  for (int k = 0; k < count; ++k) {
    const float* day = data.label_of_day(target_days[k]);
    for (std::int64_t i = 0; i < n; ++i) out[i * kLanes + k] = day[i];
  }
}

}  // namespace crimegraph
