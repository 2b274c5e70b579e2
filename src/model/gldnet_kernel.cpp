#include "crimegraph/model/gldnet_kernel.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

#include "crimegraph/model/training_data.hpp"

namespace crimegraph {

namespace {

constexpr int kLanes = GLDNetKernel::kLanes;

// A vector of one value per window of the group. GCC lowers it to zmm, ymm or xmm registers
// according to the clone being compiled. The alignment is explicit because the implied one
// follows the compiling target (16 bytes for baseline x86-64), while the AVX-512 clone's
// aligned loads assume 64.
typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float)), aligned(64)));
typedef std::int32_t IntLanes __attribute__((vector_size(kLanes * sizeof(std::int32_t)), aligned(64)));
static_assert(alignof(Lanes) == 64);

#define CG_INLINE __attribute__((always_inline)) inline
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CG_CLONES
#endif

CG_INLINE Lanes splat(float v) { return Lanes{} + v; }
// NaN passes through relu and the clamps (as in LibTorch), so a diverging trial is seen as one.
CG_INLINE Lanes relu(Lanes x) { return x < 0.0f ? Lanes{} : x; }

// exp(x) with a relative error below 2e-7: Cody-Waite range reduction and the Cephes
// polynomial, on whole vectors.
CG_INLINE Lanes vexp(Lanes x) {
  x = x < -87.0f ? splat(-87.0f) : x;
  x = x > 88.0f ? splat(88.0f) : x;
  const Lanes n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const Lanes r = x - n * 0.693359375f + n * 2.12194440e-4f;
  Lanes p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const IntLanes bits = (__builtin_convertvector(n, IntLanes) + 127) << 23;
  return p * (Lanes)bits;  // the bits as floats: 2^n
}

CG_INLINE Lanes vsigmoid(Lanes x) { return 1.0f / (1.0f + vexp(-x)); }

// z[n][o] = b[o] + sum_i w[o][i] x[n][i] (accumulating into z when `accumulate`).
CG_CLONES void dense_forward(const Lanes* __restrict x, int in, const float* __restrict w, const float* __restrict b,
                             int out, Lanes* __restrict z, int nodes, bool accumulate) {
  for (int n = 0; n < nodes; ++n) {
    const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * in;
    Lanes* zn = z + static_cast<std::ptrdiff_t>(n) * out;
    for (int o = 0; o < out; ++o) {
      Lanes acc = accumulate ? zn[o] : splat(b ? b[o] : 0.0f);
      const float* wo = w + static_cast<std::ptrdiff_t>(o) * in;
      for (int i = 0; i < in; ++i) acc += wo[i] * xn[i];
      zn[o] = acc;
    }
  }
}

// gw[o][i] += sum_n dz[n][o] x[n][i]; gb[o] += sum_n dz[n][o]; dx[n][i] (+)= sum_o w[o][i] dz[n][o].
CG_CLONES void dense_backward(const Lanes* __restrict x, int in, const Lanes* __restrict dz, int out,
                              const float* __restrict w, Lanes* __restrict gw, Lanes* __restrict gb,
                              Lanes* __restrict dx, bool accumulate_dx, int nodes) {
  for (int n = 0; n < nodes; ++n) {
    const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * in;
    const Lanes* dzn = dz + static_cast<std::ptrdiff_t>(n) * out;
    if (gb) {
      for (int o = 0; o < out; ++o) gb[o] += dzn[o];
    }
    for (int o = 0; o < out; ++o) {
      const Lanes d = dzn[o];
      Lanes* g = gw + static_cast<std::ptrdiff_t>(o) * in;
      for (int i = 0; i < in; ++i) g[i] += d * xn[i];
    }
    if (dx) {
      Lanes* dxn = dx + static_cast<std::ptrdiff_t>(n) * in;
      for (int i = 0; i < in; ++i) {
        Lanes acc = accumulate_dx ? dxn[i] : Lanes{};
        for (int o = 0; o < out; ++o) acc += w[static_cast<std::ptrdiff_t>(o) * in + i] * dzn[o];
        dxn[i] = acc;
      }
    }
  }
}

// y[r] += sum_k M[r][k] x[k] over rows of `width` lane vectors.
template <int Width>
CG_INLINE void diffuse_rows(const SparseAdjacency& m, const Lanes* __restrict x, int width, Lanes* __restrict y) {
  const int w = Width > 0 ? Width : width;
  for (std::int32_t r = 0; r < m.nodes; ++r) {
    Lanes* yr = y + static_cast<std::ptrdiff_t>(r) * w;
    for (auto k = m.row_ptr[r]; k < m.row_ptr[r + 1]; ++k) {
      const float v = m.value[static_cast<std::size_t>(k)];
      const Lanes* xk = x + static_cast<std::ptrdiff_t>(m.col[static_cast<std::size_t>(k)]) * w;
      for (int f = 0; f < w; ++f) yr[f] += v * xk[f];
    }
  }
}

CG_CLONES void diffuse(const SparseAdjacency& m, const Lanes* __restrict x, int width, Lanes* __restrict y) {
  // The search space's widths get their own loops (kept in registers); others the generic one.
  switch (width) {
    case 1: diffuse_rows<1>(m, x, width, y); break;
    case 2: diffuse_rows<2>(m, x, width, y); break;
    case 4: diffuse_rows<4>(m, x, width, y); break;
    case 8: diffuse_rows<8>(m, x, width, y); break;
    case 16: diffuse_rows<16>(m, x, width, y); break;
    default: diffuse_rows<0>(m, x, width, y); break;
  }
}

// y = relu(a) * sigmoid(b) for z = [a | b].
CG_CLONES void gated_forward(const Lanes* __restrict z, int h, Lanes* __restrict y, int nodes) {
  for (int n = 0; n < nodes; ++n) {
    const Lanes* a = z + static_cast<std::ptrdiff_t>(n) * 2 * h;
    const Lanes* b = a + h;
    Lanes* yn = y + static_cast<std::ptrdiff_t>(n) * h;
    for (int j = 0; j < h; ++j) yn[j] = relu(a[j]) * vsigmoid(b[j]);
  }
}

CG_CLONES void gated_backward(const Lanes* __restrict z, int h, const Lanes* __restrict dy, Lanes* __restrict dz,
                              int nodes) {
  for (int n = 0; n < nodes; ++n) {
    const Lanes* a = z + static_cast<std::ptrdiff_t>(n) * 2 * h;
    const Lanes* b = a + h;
    const Lanes* d = dy + static_cast<std::ptrdiff_t>(n) * h;
    Lanes* da = dz + static_cast<std::ptrdiff_t>(n) * 2 * h;
    Lanes* db = da + h;
    for (int j = 0; j < h; ++j) {
      const Lanes s = vsigmoid(b[j]);
      const Lanes ds = d[j] * s;
      da[j] = a[j] > 0.0f ? ds : Lanes{};
      db[j] = ds * relu(a[j]) * (1.0f - s);
    }
  }
}

CG_CLONES void relu_forward(Lanes* __restrict z, std::ptrdiff_t count) {
  for (std::ptrdiff_t i = 0; i < count; ++i) z[i] = relu(z[i]);
}

// dz = dy where the layer's output y was positive (its input was), else 0.
CG_CLONES void relu_backward(const Lanes* __restrict y, const Lanes* __restrict dy, Lanes* __restrict dz,
                             std::ptrdiff_t count) {
  for (std::ptrdiff_t i = 0; i < count; ++i) dz[i] = y[i] > 0.0f ? dy[i] : Lanes{};
}

CG_CLONES void sigmoid_forward(Lanes* __restrict z, std::ptrdiff_t count) {
  for (std::ptrdiff_t i = 0; i < count; ++i) z[i] = vsigmoid(z[i]);
}

CG_CLONES void sigmoid_backward(const Lanes* __restrict p, const Lanes* __restrict dp, Lanes* __restrict dz,
                                std::ptrdiff_t count) {
  for (std::ptrdiff_t i = 0; i < count; ++i) dz[i] = dp[i] * p[i] * (1.0f - p[i]);
}

// out[j] = sum_l w[l] day_l[j] for the four smoothing scales at once, in blocks that keep the
// accumulators in L1 while the L days stream by.
CG_CLONES void smooth_window(const float* __restrict window, std::int64_t width, std::int32_t lookback,
                             const float* __restrict weights, float* __restrict out) {
  static_assert(TrainingData::kSmoothingScales == 4);
  constexpr std::int64_t kBlock = 256;
  for (std::int64_t j0 = 0; j0 < width; j0 += kBlock) {
    const std::int64_t len = std::min(kBlock, width - j0);
    float a0[kBlock] = {}, a1[kBlock] = {}, a2[kBlock] = {}, a3[kBlock] = {};
    for (std::int32_t l = 0; l < lookback; ++l) {
      const float w0 = weights[l], w1 = weights[lookback + l], w2 = weights[2 * lookback + l],
                  w3 = weights[3 * lookback + l];
      const float* __restrict day = window + l * width + j0;
      for (std::int64_t j = 0; j < len; ++j) {
        const float v = day[j];
        a0[j] += w0 * v;
        a1[j] += w1 * v;
        a2[j] += w2 * v;
        a3[j] += w3 * v;
      }
    }
    std::copy_n(a0, len, out + j0);
    std::copy_n(a1, len, out + width + j0);
    std::copy_n(a2, len, out + 2 * width + j0);
    std::copy_n(a3, len, out + 3 * width + j0);
  }
}

// std::vector drops the alignment attribute of a template argument, so it is the allocator's.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
  bool operator==(const CacheLineAllocator&) const { return true; }
  bool operator!=(const CacheLineAllocator&) const { return false; }
};
using LaneBuffer = std::vector<Lanes, CacheLineAllocator<Lanes>>;

void reduce_lanes(const LaneBuffer& acc, float* out, bool add) {
  for (std::size_t i = 0; i < acc.size(); ++i) {
    float sum = 0.0f;
    for (int l = 0; l < kLanes; ++l) sum += acc[i][l];
    out[i] = add ? out[i] + sum : sum;
  }
}

}  // namespace

struct GLDNetKernel::State {
  GLDNetShape shape;
  const SparseAdjacency* a;
  const SparseAdjacency* at;
  int nodes;
  // Activations, [node][width] lane vectors.
  LaneBuffer input;
  std::vector<LaneBuffer> gated_z, gated_y;  // [2H], [H] per gated layer
  std::vector<LaneBuffer> ldn_y;             // [units] per diffusion layer
  LaneBuffer local, prediction;              // x K_local scratch; the output
  // Backward scratch.
  LaneBuffer grad_out, grad_in, grad_z, grad_local, grad_prediction;
  // Gradient accumulators, one lane vector per parameter element.
  std::vector<LaneBuffer> g_gated_w, g_gated_b, g_self_w, g_self_b, g_local_w;
  LaneBuffer g_out_w, g_out_b;
  std::vector<float> smoothed;  // one window's summaries, [scale][node x channel]

  int width_after_gated() const {
    return static_cast<int>(shape.gated_layers > 0 ? shape.gated_units : shape.inputs);
  }
  int ldn_input_width(std::int64_t layer) const {
    return layer == 0 ? width_after_gated() : static_cast<int>(shape.ldn_units);
  }
  int final_width() const { return shape.ldn_layers > 0 ? static_cast<int>(shape.ldn_units) : width_after_gated(); }
  const LaneBuffer& final_activation() const {
    if (shape.ldn_layers > 0) return ldn_y.back();
    return shape.gated_layers > 0 ? gated_y.back() : input;
  }
  const LaneBuffer& ldn_input(std::int64_t layer) const {
    if (layer > 0) return ldn_y[static_cast<std::size_t>(layer - 1)];
    return shape.gated_layers > 0 ? gated_y.back() : input;
  }
};

GLDNetKernel::GLDNetKernel(const GLDNetShape& shape, const SparseAdjacency& forward, const SparseAdjacency& transposed)
    : s_(std::make_unique<State>()) {
  if (shape.inputs < 1 || shape.gated_layers < 0 || shape.ldn_layers < 0 || shape.gated_units < 1 ||
      shape.ldn_units < 1) {
    throw std::invalid_argument("GLDNetKernel: invalid shape");
  }
  if (forward.nodes != transposed.nodes) throw std::invalid_argument("GLDNetKernel: adjacency and transpose differ");
  auto& s = *s_;
  s.shape = shape;
  s.a = &forward;
  s.at = &transposed;
  s.nodes = forward.nodes;
  const auto n = static_cast<std::size_t>(s.nodes);
  const auto h = static_cast<std::size_t>(shape.gated_units), u = static_cast<std::size_t>(shape.ldn_units);
  s.input.assign(n * static_cast<std::size_t>(shape.inputs), Lanes{});
  std::size_t widest = static_cast<std::size_t>(shape.inputs);
  std::int64_t in = shape.inputs;
  for (std::int64_t l = 0; l < shape.gated_layers; ++l) {
    s.gated_z.emplace_back(n * 2 * h);
    s.gated_y.emplace_back(n * h);
    s.g_gated_w.emplace_back(2 * h * static_cast<std::size_t>(in));
    s.g_gated_b.emplace_back(2 * h);
    widest = std::max(widest, 2 * h);
    in = shape.gated_units;
  }
  for (std::int64_t l = 0; l < shape.ldn_layers; ++l) {
    s.ldn_y.emplace_back(n * u);
    s.g_self_w.emplace_back(u * static_cast<std::size_t>(in));
    s.g_self_b.emplace_back(u);
    s.g_local_w.emplace_back(u * static_cast<std::size_t>(in));
    in = shape.ldn_units;
  }
  widest = std::max(widest, u);
  s.local.resize(n * u);
  s.prediction.resize(n);
  s.grad_out.resize(n * widest);
  s.grad_in.resize(n * widest);
  s.grad_z.resize(n * widest);
  s.grad_local.resize(n * u);
  s.grad_prediction.resize(n);
  s.g_out_w.resize(static_cast<std::size_t>(in));
  s.g_out_b.resize(1);
}

GLDNetKernel::~GLDNetKernel() = default;
GLDNetKernel::GLDNetKernel(GLDNetKernel&&) noexcept = default;
GLDNetKernel& GLDNetKernel::operator=(GLDNetKernel&&) noexcept = default;

const GLDNetShape& GLDNetKernel::shape() const { return s_->shape; }
std::int32_t GLDNetKernel::nodes() const { return s_->nodes; }
float* GLDNetKernel::input() { return reinterpret_cast<float*>(s_->input.data()); }

void GLDNetKernel::load_windows(const TrainingData& data, const std::int32_t* target_days, int count,
                                std::int32_t lookback, const std::vector<float>& weights) {
  auto& s = *s_;
  const std::int64_t n = data.nodes(), c = data.channels(), scales = TrainingData::kSmoothingScales;
  if (n != s.nodes || scales * c != s.shape.inputs) throw std::invalid_argument("load_windows: data does not fit the model");
  if (count < 0 || count > kLanes) throw std::invalid_argument("load_windows: more windows than lanes");
  if (weights.size() != static_cast<std::size_t>(scales * lookback)) throw std::invalid_argument("load_windows: weights");
  const std::int64_t width = n * c, in = s.shape.inputs;
  s.smoothed.resize(static_cast<std::size_t>(scales * width));
  float* out = input();
  if (count < kLanes) std::fill(out, out + n * in * kLanes, 0.0f);
  for (int k = 0; k < count; ++k) {
    smooth_window(data.window_begin(target_days[k], lookback), width, lookback, weights.data(), s.smoothed.data());
    for (std::int64_t i = 0; i < n; ++i) {
      float* o = out + i * in * kLanes + k;
      for (std::int64_t sc = 0; sc < scales; ++sc)
        for (std::int64_t ch = 0; ch < c; ++ch) o[(sc * c + ch) * kLanes] = s.smoothed[static_cast<std::size_t>(sc * width + i * c + ch)];
    }
  }
}

const float* GLDNetKernel::forward(const GLDNetParams& p) {
  auto& s = *s_;
  const auto& shape = s.shape;
  const int n = s.nodes, h = static_cast<int>(shape.gated_units), u = static_cast<int>(shape.ldn_units);
  const Lanes* x = s.input.data();
  int in = static_cast<int>(shape.inputs);
  for (std::int64_t l = 0; l < shape.gated_layers; ++l) {
    const auto& lp = p.gated[static_cast<std::size_t>(l)];
    auto& z = s.gated_z[static_cast<std::size_t>(l)];
    auto& y = s.gated_y[static_cast<std::size_t>(l)];
    dense_forward(x, in, lp.weight, lp.bias, 2 * h, z.data(), n, false);
    gated_forward(z.data(), h, y.data(), n);
    x = y.data();
    in = h;
  }
  for (std::int64_t l = 0; l < shape.ldn_layers; ++l) {
    // relu(x K_self + b + A (x K_local)): diffusing x K_local (width `units`) instead of x
    // itself costs no more and is narrower whenever the layer shrinks.
    const auto& self = p.ldn_self[static_cast<std::size_t>(l)];
    const auto& local = p.ldn_local[static_cast<std::size_t>(l)];
    auto& y = s.ldn_y[static_cast<std::size_t>(l)];
    dense_forward(x, in, local.weight, nullptr, u, s.local.data(), n, false);
    dense_forward(x, in, self.weight, self.bias, u, y.data(), n, false);
    diffuse(*s.a, s.local.data(), u, y.data());
    relu_forward(y.data(), static_cast<std::ptrdiff_t>(n) * u);
    x = y.data();
    in = u;
  }
  dense_forward(x, in, p.output.weight, p.output.bias, 1, s.prediction.data(), n, false);
  sigmoid_forward(s.prediction.data(), n);
  return reinterpret_cast<const float*>(s.prediction.data());
}

void GLDNetKernel::backward(const GLDNetParams& p, const float* grad_prediction) {
  auto& s = *s_;
  const auto& shape = s.shape;
  const int n = s.nodes, h = static_cast<int>(shape.gated_units), u = static_cast<int>(shape.ldn_units);
  std::memcpy(s.grad_prediction.data(), grad_prediction, sizeof(Lanes) * static_cast<std::size_t>(n));
  // Output layer: dz = dp p (1 - p); the gradient of its input goes to grad_out.
  sigmoid_backward(s.prediction.data(), s.grad_prediction.data(), s.grad_prediction.data(), n);
  int in = s.final_width();
  dense_backward(s.final_activation().data(), in, s.grad_prediction.data(), 1, p.output.weight, s.g_out_w.data(),
                 s.g_out_b.data(), s.grad_out.data(), false, n);
  for (std::int64_t l = shape.ldn_layers - 1; l >= 0; --l) {
    const auto li = static_cast<std::size_t>(l);
    in = s.ldn_input_width(l);
    const Lanes* x = s.ldn_input(l).data();
    // Input gradients are needed below this layer unless it is the first layer of all.
    const bool need_dx = l > 0 || shape.gated_layers > 0;
    relu_backward(s.ldn_y[li].data(), s.grad_out.data(), s.grad_z.data(), static_cast<std::ptrdiff_t>(n) * u);
    dense_backward(x, in, s.grad_z.data(), u, p.ldn_self[li].weight, s.g_self_w[li].data(), s.g_self_b[li].data(),
                   need_dx ? s.grad_in.data() : nullptr, false, n);
    std::fill(s.grad_local.begin(), s.grad_local.end(), Lanes{});
    diffuse(*s.at, s.grad_z.data(), u, s.grad_local.data());  // d(x K_local) = A^T dz
    dense_backward(x, in, s.grad_local.data(), u, p.ldn_local[li].weight, s.g_local_w[li].data(), nullptr,
                   need_dx ? s.grad_in.data() : nullptr, true, n);
    std::swap(s.grad_out, s.grad_in);
  }
  for (std::int64_t l = shape.gated_layers - 1; l >= 0; --l) {
    const auto li = static_cast<std::size_t>(l);
    in = l == 0 ? static_cast<int>(shape.inputs) : h;
    const Lanes* x = l == 0 ? s.input.data() : s.gated_y[li - 1].data();
    gated_backward(s.gated_z[li].data(), h, s.grad_out.data(), s.grad_z.data(), n);
    dense_backward(x, in, s.grad_z.data(), 2 * h, p.gated[li].weight, s.g_gated_w[li].data(), s.g_gated_b[li].data(),
                   l > 0 ? s.grad_in.data() : nullptr, false, n);
    std::swap(s.grad_out, s.grad_in);
  }
}

void GLDNetKernel::write_gradients(const GLDNetParams& p, bool add) {
  auto& s = *s_;
  auto flush = [add](LaneBuffer& acc, float* out) {
    reduce_lanes(acc, out, add);
    std::fill(acc.begin(), acc.end(), Lanes{});
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

void load_labels(const TrainingData& data, const std::int32_t* target_days, int count, float* out) {
  const std::int64_t n = data.nodes();
  std::fill(out, out + n * kLanes, 0.0f);
  for (int k = 0; k < count; ++k) {
    const float* day = data.label_of_day(target_days[k]);
    for (std::int64_t i = 0; i < n; ++i) out[i * kLanes + k] = day[i];
  }
}

}  // namespace crimegraph
