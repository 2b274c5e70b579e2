#include "crimegraph/model/gldnet_kernel.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#endif

#include "crimegraph/model/training_data.hpp"

namespace crimegraph {

namespace {

constexpr int kLanes = GLDNetKernel::kLanes;

// The per-node stages (the gated stack and the first diffusion layer's two dense maps) run on
// tiles of nodes, so that one layer's output is still in L1/L2 when the next reads it; the
// group's full activations (megabytes) would otherwise make every layer a pass through L3.
constexpr int kTileNodes = 32;

// A vector of one value per window of the group. GCC lowers it to zmm, ymm or xmm registers
// according to the clone being compiled. The alignment is explicit because the implied one
// follows the compiling target (16 bytes for baseline x86-64), while the AVX-512 clone's
// aligned loads assume 64.
typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float)), aligned(64)));
typedef std::int32_t IntLanes __attribute__((vector_size(kLanes * sizeof(std::int32_t)), aligned(64)));
static_assert(alignof(Lanes) == 64);
typedef float UnalignedLanes __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));

#define CG_INLINE __attribute__((always_inline)) inline
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CG_CLONES
#endif

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

CG_INLINE Lanes splat(float v) { return Lanes{} + v; }
// NaN passes through relu and the clamps (as in LibTorch), so a diverging trial is seen as one.
CG_INLINE Lanes relu(Lanes x) { return x < 0.0f ? Lanes{} : x; }

// The elementwise functions work on blocks of K vectors a step at a time: each vector's
// exp and reciprocal are one long chain of dependent operations, and the out-of-order window
// cannot hold enough of them one after another to overlap them; stepping K side by side can.
#define CG_EACH(k) _Pragma("GCC unroll 16") for (int k = 0; k < K; ++k)

// exp(x) with a relative error below 2e-7: Cody-Waite range reduction and the Cephes
// polynomial, on whole vectors.
template <int K>
CG_INLINE void vexp(Lanes* __restrict x) {
  Lanes n[K], r[K], p[K];
  CG_EACH(k) {
    x[k] = x[k] < -87.0f ? splat(-87.0f) : x[k];
    x[k] = x[k] > 88.0f ? splat(88.0f) : x[k];
  }
  CG_EACH(k) n[k] = (x[k] * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  CG_EACH(k) r[k] = x[k] - n[k] * 0.693359375f + n[k] * 2.12194440e-4f;
  CG_EACH(k) p[k] = 1.9875691500e-4f * r[k] + 1.3981999507e-3f;
  CG_EACH(k) p[k] = p[k] * r[k] + 8.3334519073e-3f;
  CG_EACH(k) p[k] = p[k] * r[k] + 4.1665795894e-2f;
  CG_EACH(k) p[k] = p[k] * r[k] + 1.6666665459e-1f;
  CG_EACH(k) p[k] = p[k] * r[k] + 5.0000001201e-1f;
  CG_EACH(k) p[k] = p[k] * r[k] * r[k] + r[k] + 1.0f;
  CG_EACH(k) {
    const IntLanes bits = (__builtin_convertvector(n[k], IntLanes) + 127) << 23;
    x[k] = p[k] * (Lanes)bits;  // the bits as floats: 2^n
  }
}

// 1/d for d in [1, 1e37]: a bit-trick first guess (12% off) and three Newton steps (each
// squares the error: 4e-8). A vector division costs several times as much.
template <int K>
CG_INLINE void vreciprocal(Lanes* __restrict d) {
  Lanes r[K];
  CG_EACH(k) r[k] = (Lanes)(0x7EF311C3 - (IntLanes)d[k]);
  for (int step = 0; step < 3; ++step) {
    CG_EACH(k) r[k] = r[k] * (2.0f - d[k] * r[k]);
  }
  CG_EACH(k) d[k] = r[k];
}

// The clamp keeps 1/d a normal float (a denormal would cost microcode assists); sigmoid
// below 1e-37 is 0 for training. NaN fails the comparison and passes through.
template <int K>
CG_INLINE void vsigmoid(Lanes* __restrict x) {
  CG_EACH(k) x[k] = -x[k];
  vexp<K>(x);
  CG_EACH(k) {
    x[k] = 1.0f + x[k];
    x[k] = x[k] > 1e37f ? splat(1e37f) : x[k];
  }
  vreciprocal<K>(x);
}

// store(e, sigmoid(load(e))) for e in [0, count), kElementBlock at a time.
constexpr int kElementBlock = 8;
template <typename Load, typename Store>
CG_INLINE void sigmoid_blocks(std::ptrdiff_t count, Load load, Store store) {
  std::ptrdiff_t e = 0;
  for (; e + kElementBlock <= count; e += kElementBlock) {
    Lanes v[kElementBlock];
    for (int k = 0; k < kElementBlock; ++k) v[k] = load(e + k);
    vsigmoid<kElementBlock>(v);
    for (int k = 0; k < kElementBlock; ++k) store(e + k, v[k]);
  }
  for (; e < count; ++e) {
    Lanes v[1] = {load(e)};
    vsigmoid<1>(v);
    store(e, v[0]);
  }
}

// The dense maps, with the widths as template arguments when they are among the search
// space's (0: given at run time): fixed trip counts let the compiler unroll the loops and keep
// accumulators in registers (the run-time loops spent more time on loop control than on math).

// z[n][o] = b[o] + sum_i w[o][i] x[n][i].
CG_INLINE void dense_row(const Lanes* __restrict xn, int in, const float* __restrict w, const float* __restrict b,
                         int out, Lanes* __restrict zn) {
  for (int o = 0; o < out; ++o) {
    Lanes acc = splat(b ? b[o] : 0.0f);
    const float* wo = w + static_cast<std::ptrdiff_t>(o) * in;
    for (int i = 0; i < in; ++i) acc += wo[i] * xn[i];
    zn[o] = acc;
  }
}

template <int In, int Out>
CG_INLINE void dense_forward_fixed(const Lanes* __restrict x, int in_rt, const float* __restrict w,
                                   const float* __restrict b, int out_rt, Lanes* __restrict z, int nodes) {
  const int in = In > 0 ? In : in_rt, out = Out > 0 ? Out : out_rt;
  for (int n = 0; n < nodes; ++n) {
    dense_row(x + static_cast<std::ptrdiff_t>(n) * in, in, w, b, out, z + static_cast<std::ptrdiff_t>(n) * out);
  }
}

// Two maps of the same input, z[n] = x[n] W^T + b and z2[n] = x[n] W2^T (a diffusion layer's
// self and local parts): each input row is read once, while in L1, instead of once per map
// from wherever the whole layer lives (L2 or L3 at the wider layers).
template <int In, int Out>
CG_INLINE void dense_pair_forward_fixed(const Lanes* __restrict x, int in_rt, const float* __restrict w,
                                        const float* __restrict b, const float* __restrict w2, int out_rt,
                                        Lanes* __restrict z, Lanes* __restrict z2, int nodes) {
  const int in = In > 0 ? In : in_rt, out = Out > 0 ? Out : out_rt;
  for (int n = 0; n < nodes; ++n) {
    const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * in;
    dense_row(xn, in, w2, nullptr, out, z2 + static_cast<std::ptrdiff_t>(n) * out);
    dense_row(xn, in, w, b, out, z + static_cast<std::ptrdiff_t>(n) * out);
  }
}

// gw[o][i] += sum_n dz[n][o] x[n][i]; gb[o] += sum_n dz[n][o]; dx[n][i] (+)= sum_o w[o][i] dz[n][o],
// then, given a mask (the input's own ReLU output), dx[n][i] = 0 where mask[n][i] <= 0: the
// ReLU's backward step done while the row is in registers rather than as a pass of its own.
CG_INLINE Lanes masked(Lanes v, const Lanes* __restrict mask, int i) {
  return mask ? (mask[i] > 0.0f ? v : Lanes{}) : v;
}

// With Pair, the row also takes the second map's sum_o w2[o][i] dz2[n][o], after the first's.
template <int In, bool Pair>
CG_INLINE void input_gradient_row(const Lanes* __restrict dzn, int out, const float* __restrict w,
                                  const Lanes* __restrict dz2n, const float* __restrict w2, Lanes* __restrict dxn,
                                  bool accumulate, const Lanes* __restrict maskn) {
  // Inputs in chunks of up to 8 sums held in registers while the outputs stream by: one sum
  // at a time made each input a chain of `out` dependent multiply-adds.
  constexpr int kChunk = In < 8 ? In : 8;
  for (int i0 = 0; i0 < In; i0 += kChunk) {
    const int width = std::min(kChunk, In - i0);
    Lanes acc[kChunk];
    for (int i = 0; i < kChunk; ++i) acc[i] = accumulate && i < width ? dxn[i0 + i] : Lanes{};
    for (int o = 0; o < out; ++o) {
      const Lanes d = dzn[o];
      const float* wo = w + static_cast<std::ptrdiff_t>(o) * In + i0;
      for (int i = 0; i < kChunk; ++i)
        if (i < width) acc[i] += wo[i] * d;
    }
    if constexpr (Pair) {
      for (int o = 0; o < out; ++o) {
        const Lanes d = dz2n[o];
        const float* wo = w2 + static_cast<std::ptrdiff_t>(o) * In + i0;
        for (int i = 0; i < kChunk; ++i)
          if (i < width) acc[i] += wo[i] * d;
      }
    }
    for (int i = 0; i < kChunk; ++i)
      if (i < width) dxn[i0 + i] = masked(acc[i], maskn, i0 + i);
  }
}

// Narrow rows get several sets of sums over interleaved nodes: one set would chain every
// multiply-add on the previous one's latency.
template <int In>
constexpr int kGradientSets = In <= 4 ? 4 : (In <= 8 ? 2 : 1);

// gw[o][i] += sum_n dz[n][o] x[n][i] and gb[o] += sum_n dz[n][o] over nodes n0 .. n1.
template <int In, int Out>
CG_INLINE void weight_gradient_block(const Lanes* __restrict x, const Lanes* __restrict dz, Lanes* __restrict gw,
                                     Lanes* __restrict gb, int n0, int n1) {
  constexpr int kSets = kGradientSets<In>;
  for (int o = 0; o < Out; ++o) {
    Lanes acc[kSets][In] = {}, bias[kSets] = {};
    int n = n0;
    for (; n + kSets <= n1; n += kSets) {
      for (int t = 0; t < kSets; ++t) {
        const Lanes d = dz[static_cast<std::ptrdiff_t>(n + t) * Out + o];
        const Lanes* xn = x + static_cast<std::ptrdiff_t>(n + t) * In;
        bias[t] += d;
        for (int i = 0; i < In; ++i) acc[t][i] += d * xn[i];
      }
    }
    for (; n < n1; ++n) {
      const Lanes d = dz[static_cast<std::ptrdiff_t>(n) * Out + o];
      const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * In;
      bias[0] += d;
      for (int i = 0; i < In; ++i) acc[0][i] += d * xn[i];
    }
    Lanes* g = gw + static_cast<std::ptrdiff_t>(o) * In;
    for (int t = 0; t < kSets; ++t) {
      for (int i = 0; i < In; ++i) g[i] += acc[t][i];
      if (gb) gb[o] += bias[t];
    }
  }
}

// The backward pass of dense_forward (Pair false) or dense_pair_forward (Pair true; dz2, w2
// and gw2 are the second map's, which has no bias). The input's gradient takes the first map's
// part and then the second's, in the order two separate passes would add them.
template <int In, int Out, bool Pair>
CG_INLINE void dense_backward_fixed(const Lanes* __restrict x, int in_rt, const Lanes* __restrict dz, int out_rt,
                                    const float* __restrict w, Lanes* __restrict gw, Lanes* __restrict gb,
                                    const Lanes* __restrict dz2, const float* __restrict w2, Lanes* __restrict gw2,
                                    Lanes* __restrict dx, bool accumulate_dx, const Lanes* __restrict dx_mask,
                                    int nodes) {
  const int in = In > 0 ? In : in_rt, out = Out > 0 ? Out : out_rt;
  if constexpr (In > 0 && In <= 16 && Out > 0) {
    // Blocks of nodes whose x and dz rows fit L1 together (32 KB of its 48), so that each
    // output's pass over the block's x hits L1: a larger block cycled through L1 and every
    // load went to L2. The block's dx is computed while its dz is still there.
    // A pair keeps the single map's blocks (the gradient sums add in the same order, so the
    // fused pass gives bit for bit the same gradients), though the second map's dz rows
    // add to its footprint: 48 KB, all of L1, at 16 units; a block sized for the pair was not tried.
    constexpr int kSets = kGradientSets<In>;
    constexpr int kRowBytes = (In + Out) * static_cast<int>(sizeof(Lanes));
    constexpr int kBlock = std::clamp(32768 / kRowBytes / kSets * kSets, kSets, 32);
    for (int n0 = 0; n0 < nodes; n0 += kBlock) {
      const int n1 = std::min(nodes, n0 + kBlock);
      weight_gradient_block<In, Out>(x, dz, gw, gb, n0, n1);
      if constexpr (Pair) weight_gradient_block<In, Out>(x, dz2, gw2, nullptr, n0, n1);
      if (dx) {
        for (int m = n0; m < n1; ++m) {
          const auto row = static_cast<std::ptrdiff_t>(m) * Out;
          input_gradient_row<In, Pair>(dz + row, Out, w, Pair ? dz2 + row : nullptr, w2,
                                       dx + static_cast<std::ptrdiff_t>(m) * In, accumulate_dx,
                                       dx_mask ? dx_mask + static_cast<std::ptrdiff_t>(m) * In : nullptr);
        }
      }
    }
    return;
  }
  if constexpr (Pair) {
    // Widths outside the search space: the two maps one after the other, the mask last.
    dense_backward_fixed<In, Out, false>(x, in, dz, out, w, gw, gb, nullptr, nullptr, nullptr, dx, accumulate_dx,
                                         nullptr, nodes);
    dense_backward_fixed<In, Out, false>(x, in, dz2, out, w2, gw2, nullptr, nullptr, nullptr, nullptr, dx, true,
                                         dx_mask, nodes);
    return;
  }
  for (int n = 0; n < nodes; ++n) {
    const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * in;
    const Lanes* dzn = dz + static_cast<std::ptrdiff_t>(n) * out;
    for (int o = 0; o < out; ++o) {
      const Lanes d = dzn[o];
      if (gb) gb[o] += d;
      Lanes* g = gw + static_cast<std::ptrdiff_t>(o) * in;
      for (int i = 0; i < in; ++i) g[i] += d * xn[i];
    }
  }
  if (dx) {
    for (int n = 0; n < nodes; ++n) {
      const Lanes* dzn = dz + static_cast<std::ptrdiff_t>(n) * out;
      Lanes* dxn = dx + static_cast<std::ptrdiff_t>(n) * in;
      const Lanes* maskn = dx_mask ? dx_mask + static_cast<std::ptrdiff_t>(n) * in : nullptr;
      for (int i = 0; i < in; ++i) {
        Lanes acc = accumulate_dx ? dxn[i] : Lanes{};
        for (int o = 0; o < out; ++o) acc += w[static_cast<std::ptrdiff_t>(o) * in + i] * dzn[o];
        dxn[i] = masked(acc, maskn, i);
      }
    }
  }
}

// Calls FN<in, out>(args) for the widths GLDNet uses (inputs 12; units 2-16; gated outputs
// twice the units; the output layer 1), FN<0, 0> otherwise.
#define CG_CASE_OUT(FN, IN, ...)                          \
  switch (out) {                                          \
    case 1: return FN<IN, 1>(__VA_ARGS__);                \
    case 2: return FN<IN, 2>(__VA_ARGS__);                \
    case 4: return FN<IN, 4>(__VA_ARGS__);                \
    case 8: return FN<IN, 8>(__VA_ARGS__);                \
    case 16: return FN<IN, 16>(__VA_ARGS__);              \
    case 32: return FN<IN, 32>(__VA_ARGS__);              \
    default: return FN<0, 0>(__VA_ARGS__);                \
  }
#define CG_DISPATCH_WIDTHS(FN, ...)                       \
  switch (in) {                                           \
    case 2: CG_CASE_OUT(FN, 2, __VA_ARGS__)               \
    case 4: CG_CASE_OUT(FN, 4, __VA_ARGS__)               \
    case 8: CG_CASE_OUT(FN, 8, __VA_ARGS__)               \
    case 12: CG_CASE_OUT(FN, 12, __VA_ARGS__)             \
    case 16: CG_CASE_OUT(FN, 16, __VA_ARGS__)             \
    default: return FN<0, 0>(__VA_ARGS__);                \
  }

// The same for a diffusion layer's pair of maps, whose outputs are the layer's units (2-16).
#define CG_CASE_UNITS(FN, IN, ...)                        \
  switch (out) {                                          \
    case 2: return FN<IN, 2>(__VA_ARGS__);                \
    case 4: return FN<IN, 4>(__VA_ARGS__);                \
    case 8: return FN<IN, 8>(__VA_ARGS__);                \
    case 16: return FN<IN, 16>(__VA_ARGS__);              \
    default: return FN<0, 0>(__VA_ARGS__);                \
  }
#define CG_DISPATCH_UNITS(FN, ...)                        \
  switch (in) {                                           \
    case 2: CG_CASE_UNITS(FN, 2, __VA_ARGS__)             \
    case 4: CG_CASE_UNITS(FN, 4, __VA_ARGS__)             \
    case 8: CG_CASE_UNITS(FN, 8, __VA_ARGS__)             \
    case 12: CG_CASE_UNITS(FN, 12, __VA_ARGS__)           \
    case 16: CG_CASE_UNITS(FN, 16, __VA_ARGS__)           \
    default: return FN<0, 0>(__VA_ARGS__);                \
  }

template <int In, int Out>
CG_INLINE void dense_single_backward_fixed(const Lanes* __restrict x, int in, const Lanes* __restrict dz, int out,
                                           const float* __restrict w, Lanes* __restrict gw, Lanes* __restrict gb,
                                           Lanes* __restrict dx, bool accumulate_dx, const Lanes* __restrict dx_mask,
                                           int nodes) {
  dense_backward_fixed<In, Out, false>(x, in, dz, out, w, gw, gb, nullptr, nullptr, nullptr, dx, accumulate_dx,
                                       dx_mask, nodes);
}
template <int In, int Out>
CG_INLINE void dense_pair_backward_fixed(const Lanes* __restrict x, int in, const Lanes* __restrict dz, int out,
                                         const float* __restrict w, Lanes* __restrict gw, Lanes* __restrict gb,
                                         const Lanes* __restrict dz2, const float* __restrict w2,
                                         Lanes* __restrict gw2, Lanes* __restrict dx, const Lanes* __restrict dx_mask,
                                         int nodes) {
  dense_backward_fixed<In, Out, true>(x, in, dz, out, w, gw, gb, dz2, w2, gw2, dx, false, dx_mask, nodes);
}

CG_CLONES void dense_forward(const Lanes* __restrict x, int in, const float* __restrict w, const float* __restrict b,
                             int out, Lanes* __restrict z, int nodes) {
  CG_DISPATCH_WIDTHS(dense_forward_fixed, x, in, w, b, out, z, nodes)
}

CG_CLONES void dense_pair_forward(const Lanes* __restrict x, int in, const float* __restrict w,
                                  const float* __restrict b, const float* __restrict w2, int out, Lanes* __restrict z,
                                  Lanes* __restrict z2, int nodes) {
  CG_DISPATCH_UNITS(dense_pair_forward_fixed, x, in, w, b, w2, out, z, z2, nodes)
}

CG_CLONES void dense_backward(const Lanes* __restrict x, int in, const Lanes* __restrict dz, int out,
                              const float* __restrict w, Lanes* __restrict gw, Lanes* __restrict gb,
                              Lanes* __restrict dx, bool accumulate_dx, const Lanes* __restrict dx_mask, int nodes) {
  CG_DISPATCH_WIDTHS(dense_single_backward_fixed, x, in, dz, out, w, gw, gb, dx, accumulate_dx, dx_mask, nodes)
}

// dx (when not null) is written, not accumulated; dx_mask applies to the sum of both parts.
CG_CLONES void dense_pair_backward(const Lanes* __restrict x, int in, const Lanes* __restrict dz, int out,
                                   const float* __restrict w, Lanes* __restrict gw, Lanes* __restrict gb,
                                   const Lanes* __restrict dz2, const float* __restrict w2, Lanes* __restrict gw2,
                                   Lanes* __restrict dx, const Lanes* __restrict dx_mask, int nodes) {
  CG_DISPATCH_UNITS(dense_pair_backward_fixed, x, in, dz, out, w, gw, gb, dz2, w2, gw2, dx, dx_mask, nodes)
}

// What a diffusion does with its output row: y[r] = sum_k M[r][k] x[k] (Assign, the backward
// pass), or y[r] = relu(y[r] + that) (AddRelu, a diffusion layer's last forward step). Done per
// row while the row is in cache, instead of separate passes that zero or rectify the layer.
enum class RowUpdate { Assign, AddRelu };

// Rows r0 .. r1 (all by default); y points at row r0's output.
template <int Width, RowUpdate Update>
CG_INLINE void diffuse_rows(const SparseAdjacency& m, const Lanes* __restrict x, int width, Lanes* __restrict y,
                            std::int32_t r0 = 0, std::int32_t r1 = -1) {
  const int w = Width > 0 ? Width : width;
  if (r1 < 0) r1 = m.nodes;
  for (std::int32_t r = r0; r < r1; ++r) {
    Lanes* yr = y + static_cast<std::ptrdiff_t>(r - r0) * w;
    if (Update == RowUpdate::Assign) {
      for (int f = 0; f < w; ++f) yr[f] = Lanes{};
    }
    for (auto k = m.row_ptr[r]; k < m.row_ptr[r + 1]; ++k) {
      const float v = m.value[static_cast<std::size_t>(k)];
      const Lanes* xk = x + static_cast<std::ptrdiff_t>(m.col[static_cast<std::size_t>(k)]) * w;
      for (int f = 0; f < w; ++f) yr[f] += v * xk[f];
    }
    if (Update == RowUpdate::AddRelu) {
      for (int f = 0; f < w; ++f) yr[f] = relu(yr[f]);
    }
  }
}

template <RowUpdate Update>
CG_INLINE void diffuse_widths(const SparseAdjacency& m, const Lanes* __restrict x, int width, Lanes* __restrict y) {
  // The search space's widths get their own loops (kept in registers); others the generic one.
  switch (width) {
    case 1: return diffuse_rows<1, Update>(m, x, width, y);
    case 2: return diffuse_rows<2, Update>(m, x, width, y);
    case 4: return diffuse_rows<4, Update>(m, x, width, y);
    case 8: return diffuse_rows<8, Update>(m, x, width, y);
    case 16: return diffuse_rows<16, Update>(m, x, width, y);
    default: return diffuse_rows<0, Update>(m, x, width, y);
  }
}

CG_CLONES void diffuse(const SparseAdjacency& m, const Lanes* __restrict x, int width, Lanes* __restrict y,
                       RowUpdate update) {
  switch (update) {
    case RowUpdate::Assign: return diffuse_widths<RowUpdate::Assign>(m, x, width, y);
    case RowUpdate::AddRelu: return diffuse_widths<RowUpdate::AddRelu>(m, x, width, y);
  }
}

// Sparse versions of a diffusion layer's pair of maps. A ReLU layer leaves most of its lane
// vectors all zero: a quiet street segment's activations hardly change from one day to the
// next, so a unit that is off there is off in all 16 windows of the group (in a trained 7 x 16
// network, 64% of the layers' input vectors and 67% of their output gradients were zero). The
// maps below skip those vectors, found in one pass per layer (nonzero_lanes). The forward pass
// and the input's gradient add the remaining terms in the dense maps' order (the same numbers,
// but for the sign of an exact zero); the weight gradients add them in blocks of nodes of
// their own, which rounds differently in the last bits. Used at 8 and 16 units, the layers
// whose multiply-adds dominate the search's time; narrower ones were not tried.

// Bit i of mask[r] is set when any window's x[r][i] is not zero (NaN counts as not zero).
void nonzero_lanes_generic(const Lanes* __restrict x, std::int64_t rows, int width, std::uint32_t* __restrict mask) {
  for (std::int64_t r = 0; r < rows; ++r) {
    std::uint32_t m = 0;
    for (int i = 0; i < width; ++i) {
      const IntLanes bits = (IntLanes)x[r * width + i] & 0x7fffffff;
      int any = 0;
      for (int l = 0; l < kLanes; ++l) any |= bits[l];
      m |= static_cast<std::uint32_t>(any != 0) << i;
    }
    mask[r] = m;
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// One test instruction per vector instead of a reduction; the vector types and target_clones
// offer no portable way to it, so this one is written for AVX-512 and chosen at run time.
// The width is fixed so that the loop unrolls: the tests of a row are then independent of
// each other rather than a chain through the mask.
template <int Width>
__attribute__((target("avx512f"))) void nonzero_lanes_avx512(const Lanes* __restrict x, std::int64_t rows,
                                                             std::uint32_t* __restrict mask) {
  const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto* row = reinterpret_cast<const __m512i*>(x + r * Width);
    std::uint32_t m = 0;
    for (int i = 0; i < Width; ++i) {
      m |= static_cast<std::uint32_t>(_mm512_test_epi32_mask(_mm512_load_si512(row + i), magnitude) != 0) << i;
    }
    mask[r] = m;
  }
}
#endif

void nonzero_lanes(const Lanes* x, std::int64_t rows, int width, std::uint32_t* mask) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512 && width == 8) return nonzero_lanes_avx512<8>(x, rows, mask);
  if (avx512 && width == 16) return nonzero_lanes_avx512<16>(x, rows, mask);
#endif
  nonzero_lanes_generic(x, rows, width, mask);
}

// for (each set bit i of bits, lowest first): one mispredicted branch per loop, at its end.
#define CG_EACH_BIT(i, bits)                                        \
  for (std::uint32_t cg_bits_ = (bits), i;                          \
       cg_bits_ != 0 && ((i = static_cast<std::uint32_t>(__builtin_ctz(cg_bits_))), true); \
       cg_bits_ &= cg_bits_ - 1)

// acc[o] = b[o] (0 without b) + sum over the non-zero inputs i of w[o][i] xn[i].
template <int In, int Out>
CG_INLINE void sparse_row(const Lanes* __restrict xn, std::uint32_t nonzero, const float* __restrict w,
                          const float* __restrict b, Lanes* __restrict acc) {
  for (int o = 0; o < Out; ++o) acc[o] = splat(b ? b[o] : 0.0f);
  CG_EACH_BIT(i, nonzero) {
    const Lanes xi = xn[i];
    const float* wi = w + i;  // a pointer, so that each weight's address is a constant offset
    for (int o = 0; o < Out; ++o) acc[o] += wi[o * In] * xi;
  }
}

// A diffusion layer's forward pass, y = relu(x W^T + b + A (x W2^T)), in two passes over the
// nodes: the local map x W2^T, then per node its self map, kept in registers while its
// neighbours' local rows are added, instead of being stored as a layer of its own and read
// back by the diffusion. The sums are added in the order of dense_pair_forward + diffuse.
template <int In, int Out>
CG_INLINE void sparse_layer_forward_fixed(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero,
                                          const SparseAdjacency& a, const float* __restrict w,
                                          const float* __restrict b, const float* __restrict w2,
                                          Lanes* __restrict local, Lanes* __restrict y, int nodes) {
  for (int n = 0; n < nodes; ++n) {
    sparse_row<In, Out>(x + static_cast<std::ptrdiff_t>(n) * In, x_nonzero[n], w2, nullptr,
                        local + static_cast<std::ptrdiff_t>(n) * Out);
  }
  for (int r = 0; r < nodes; ++r) {
    Lanes acc[Out];
    sparse_row<In, Out>(x + static_cast<std::ptrdiff_t>(r) * In, x_nonzero[r], w, b, acc);
    for (auto k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
      const float v = a.value[static_cast<std::size_t>(k)];
      const Lanes* lk = local + static_cast<std::ptrdiff_t>(a.col[static_cast<std::size_t>(k)]) * Out;
      for (int o = 0; o < Out; ++o) acc[o] += v * lk[o];
    }
    Lanes* yr = y + static_cast<std::ptrdiff_t>(r) * Out;
    for (int o = 0; o < Out; ++o) yr[o] = relu(acc[o]);
  }
}

// gw[o][i] += sum_n dz[n][o] x[n][i] and gb[o] += sum_n dz[n][o] over a block's nodes (x, dz
// and dz_nonzero point at its first) whose dz[n][o] is not zero: listed per output first, so
// the loops over them run without a branch per node.
template <int In, int Out, int Block>
CG_INLINE void sparse_weight_gradient_block(const Lanes* __restrict x, const Lanes* __restrict dz,
                                            const std::uint32_t* __restrict dz_nonzero, Lanes* __restrict gw,
                                            Lanes* __restrict gb, int nodes) {
  std::uint8_t listed[Out][Block];
  int count[Out] = {};
  for (int n = 0; n < nodes; ++n) {
    CG_EACH_BIT(o, dz_nonzero[n]) listed[o][count[o]++] = static_cast<std::uint8_t>(n);
  }
  for (int o = 0; o < Out; ++o) {
    if (count[o] == 0) continue;
    Lanes acc[In] = {}, bias = {};
    for (int k = 0; k < count[o]; ++k) {
      const int n = listed[o][k];
      const Lanes d = dz[static_cast<std::ptrdiff_t>(n) * Out + o];
      const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * In;
      bias += d;
      for (int i = 0; i < In; ++i) acc[i] += d * xn[i];
    }
    Lanes* g = gw + static_cast<std::ptrdiff_t>(o) * In;
    for (int i = 0; i < In; ++i) g[i] += acc[i];
    if (gb) gb[o] += bias;
  }
}

// dxn[i] = sum_o w[o][i] dzn[o] (+ sum_o w2[o][i] dz2n[o] with Pair) where xn[i] > 0, and 0
// elsewhere: input_gradient_row<In, Pair> for an input that is a ReLU output, summed over the
// outputs whose dz is not zero (bits of dz_nonzero, dz2_nonzero: up to 32 outputs), in chunks
// of 8 inputs, a chunk skipped where x is all zero.
template <int In, bool Pair>
CG_INLINE void sparse_input_gradient_row(const Lanes* __restrict xn, std::uint32_t x_nonzero,
                                         const Lanes* __restrict dzn, std::uint32_t dz_nonzero,
                                         const float* __restrict w, const Lanes* __restrict dz2n,
                                         std::uint32_t dz2_nonzero, const float* __restrict w2,
                                         Lanes* __restrict dxn) {
  constexpr int kChunk = In < 8 ? In : 8;
  for (int i0 = 0; i0 < In; i0 += kChunk) {
    Lanes acc[kChunk] = {};
    if ((x_nonzero >> i0) & ((1u << kChunk) - 1)) {
      CG_EACH_BIT(o, dz_nonzero) {
        const Lanes d = dzn[o];
        const float* wo = w + o * In + i0;
        for (int i = 0; i < kChunk; ++i) acc[i] += wo[i] * d;
      }
      if constexpr (Pair) {
        CG_EACH_BIT(o, dz2_nonzero) {
          const Lanes d = dz2n[o];
          const float* wo = w2 + o * In + i0;
          for (int i = 0; i < kChunk; ++i) acc[i] += wo[i] * d;
        }
      }
    }
    for (int i = 0; i < kChunk; ++i) dxn[i0 + i] = masked(acc[i], xn, i0 + i);
  }
}

// The backward pass of a diffusion layer's maps: dz2 = A^T dz, both maps' weight gradients,
// and the input's gradient dx[n][i] = sum_o w[o][i] dz[n][o] + sum_o w2[o][i] dz2[n][o] where
// x[n][i] > 0 (x is the previous layer's ReLU output, so dx is zero wherever x is). dz2 is
// made a block of nodes at a time on the stack and used while in cache, instead of as a layer
// of its own (a megabyte at 16 units) written and read back. dz_nonzero may be a superset.
template <int In, int Out>
CG_INLINE void sparse_pair_backward_fixed(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero,
                                          const Lanes* __restrict dz, const std::uint32_t* __restrict dz_nonzero,
                                          const SparseAdjacency& transposed, const float* __restrict w,
                                          Lanes* __restrict gw, Lanes* __restrict gb, const float* __restrict w2,
                                          Lanes* __restrict gw2, Lanes* __restrict dx, int nodes) {
  constexpr int kBlock = 32;  // at 16 units, 32 KB of x rows and as much of dz2: in cache while every output passes
  Lanes dz2[kBlock * Out];
  std::uint32_t dz2_nonzero[kBlock];
  for (int n0 = 0; n0 < nodes; n0 += kBlock) {
    const int n1 = std::min(nodes, n0 + kBlock);
    diffuse_rows<Out, RowUpdate::Assign>(transposed, dz, Out, dz2, n0, n1);
    nonzero_lanes(dz2, n1 - n0, Out, dz2_nonzero);
    const Lanes* xb = x + static_cast<std::ptrdiff_t>(n0) * In;
    sparse_weight_gradient_block<In, Out, kBlock>(xb, dz + static_cast<std::ptrdiff_t>(n0) * Out, dz_nonzero + n0, gw,
                                                  gb, n1 - n0);
    sparse_weight_gradient_block<In, Out, kBlock>(xb, dz2, dz2_nonzero, gw2, nullptr, n1 - n0);
    for (int n = n0; n < n1; ++n) {
      const auto row = static_cast<std::ptrdiff_t>(n) * In;
      sparse_input_gradient_row<In, true>(x + row, x_nonzero[n], dz + static_cast<std::ptrdiff_t>(n) * Out,
                                          dz_nonzero[n], w, dz2 + static_cast<std::ptrdiff_t>(n - n0) * Out,
                                          dz2_nonzero[n - n0], w2, dx + row);
    }
  }
}

// True when the sparse maps take a diffusion layer of this many units (input and output).
constexpr bool sparse_units(int units) { return units == 8 || units == 16; }

CG_CLONES void sparse_layer_forward(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero, int units,
                                    const SparseAdjacency& a, const float* __restrict w, const float* __restrict b,
                                    const float* __restrict w2, Lanes* __restrict local, Lanes* __restrict y,
                                    int nodes) {
  if (units == 8) return sparse_layer_forward_fixed<8, 8>(x, x_nonzero, a, w, b, w2, local, y, nodes);
  if (units == 16) return sparse_layer_forward_fixed<16, 16>(x, x_nonzero, a, w, b, w2, local, y, nodes);
  throw std::logic_error("sparse_layer_forward: units");
}

CG_CLONES void sparse_pair_backward(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero, int units,
                                    const Lanes* __restrict dz, const std::uint32_t* __restrict dz_nonzero,
                                    const SparseAdjacency& transposed, const float* __restrict w,
                                    Lanes* __restrict gw, Lanes* __restrict gb, const float* __restrict w2,
                                    Lanes* __restrict gw2, Lanes* __restrict dx, int nodes) {
  if (units == 8) {
    return sparse_pair_backward_fixed<8, 8>(x, x_nonzero, dz, dz_nonzero, transposed, w, gw, gb, w2, gw2, dx, nodes);
  }
  if (units == 16) {
    return sparse_pair_backward_fixed<16, 16>(x, x_nonzero, dz, dz_nonzero, transposed, w, gw, gb, w2, gw2, dx,
                                              nodes);
  }
  throw std::logic_error("sparse_pair_backward: units");
}

// The gated stack's sparse maps, for the same widths. A gated layer's output y = relu(a) s is
// as sparse as a diffusion layer's (47-63% of the lane vectors all zero in the layers of a
// 3 x 16 stack, in its first epochs); where y is zero, so are both halves of the gradient of
// its pre-activation z = [a | b]. The forward map and the input gradient add the dense maps'
// non-zero terms in their order; the weight gradients sum per output over a tile's listed nodes.

// z[n] = [x W_a^T + b_a | x W_b^T + b_b] over x's non-zero inputs: the fused map in two halves
// of H outputs, each kept in registers (2H = 32 sums and the inputs would not fit).
template <int H>
CG_INLINE void sparse_gated_map_fixed(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero,
                                      const float* __restrict w, const float* __restrict b, Lanes* __restrict z,
                                      int nodes) {
  for (int n = 0; n < nodes; ++n) {
    const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * H;
    Lanes* zn = z + static_cast<std::ptrdiff_t>(n) * 2 * H;
    sparse_row<H, H>(xn, x_nonzero[n], w, b, zn);
    sparse_row<H, H>(xn, x_nonzero[n], w + H * H, b + H, zn + H);
  }
}

// The fused map's backward pass on a tile: weight gradients over the nodes where y (hence dz)
// is not zero, and, when In == H (x is the previous gated layer's y), the input gradient where
// x is not zero; gated_backward needs it nowhere else.
template <int In, int H>
CG_INLINE void sparse_gated_map_backward_fixed(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero,
                                               const Lanes* __restrict dz, const std::uint32_t* __restrict y_nonzero,
                                               const float* __restrict w, Lanes* __restrict gw, Lanes* __restrict gb,
                                               Lanes* __restrict dx, int nodes) {
  std::uint32_t dz_nonzero[kTileNodes];
  for (int n = 0; n < nodes; ++n) dz_nonzero[n] = y_nonzero[n] | (y_nonzero[n] << H);
  sparse_weight_gradient_block<In, 2 * H, kTileNodes>(x, dz, dz_nonzero, gw, gb, nodes);
  if constexpr (In == H) {
    if (!dx) return;
    for (int n = 0; n < nodes; ++n) {
      const auto row = static_cast<std::ptrdiff_t>(n) * In;
      sparse_input_gradient_row<In, false>(x + row, x_nonzero[n], dz + static_cast<std::ptrdiff_t>(n) * 2 * H,
                                           dz_nonzero[n], w, nullptr, 0, nullptr, dx + row);
    }
  }
}

CG_CLONES void sparse_gated_map(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero, int h,
                                const float* __restrict w, const float* __restrict b, Lanes* __restrict z, int nodes) {
  if (h == 8) return sparse_gated_map_fixed<8>(x, x_nonzero, w, b, z, nodes);
  if (h == 16) return sparse_gated_map_fixed<16>(x, x_nonzero, w, b, z, nodes);
  throw std::logic_error("sparse_gated_map: units");
}

// False (nothing done) for input widths without a sparse version: the caller runs the dense map.
CG_CLONES bool sparse_gated_map_backward(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero, int in,
                                         const Lanes* __restrict dz, const std::uint32_t* __restrict y_nonzero, int h,
                                         const float* __restrict w, Lanes* __restrict gw, Lanes* __restrict gb,
                                         Lanes* __restrict dx, int nodes) {
  if (nodes > kTileNodes) throw std::logic_error("sparse_gated_map_backward: more nodes than a tile");
  auto run = [&](auto fn) {
    fn(x, x_nonzero, dz, y_nonzero, w, gw, gb, dx, nodes);
    return true;
  };
  if (h == 8 && in == 8) return run(sparse_gated_map_backward_fixed<8, 8>);
  if (h == 16 && in == 16) return run(sparse_gated_map_backward_fixed<16, 16>);
  // The first gated layer's input, the smoothed windows of 3 channels, has no input gradient.
  if (!dx && h == 8 && in == 12) return run(sparse_gated_map_backward_fixed<12, 8>);
  if (!dx && h == 16 && in == 12) return run(sparse_gated_map_backward_fixed<12, 16>);
  return false;
}

// y = relu(a) * sigmoid(b) for z = [a | b]; keeps y and the gate s = sigmoid(b), all the
// backward pass needs: the gate is never 0, so y > 0 exactly where a > 0.
// Element e = n h + j of y and the gate; its a and b are z[n][j] and z[n][h + j].
template <int H>
CG_INLINE void gated_forward_fixed(const Lanes* __restrict z, int h_rt, Lanes* __restrict y,
                                   Lanes* __restrict gate, int nodes) {
  const std::ptrdiff_t h = H > 0 ? H : h_rt;
  const auto a_of = [&](std::ptrdiff_t e) { return z + (e / h) * 2 * h + e % h; };
  sigmoid_blocks(
      static_cast<std::ptrdiff_t>(nodes) * h, [&](std::ptrdiff_t e) { return a_of(e)[h]; },
      [&](std::ptrdiff_t e, Lanes s) {
        gate[e] = s;
        y[e] = relu(*a_of(e)) * s;
      });
}

CG_CLONES void gated_forward(const Lanes* __restrict z, int h, Lanes* __restrict y, Lanes* __restrict gate,
                             int nodes) {
  switch (h) {
    case 2: return gated_forward_fixed<2>(z, h, y, gate, nodes);
    case 4: return gated_forward_fixed<4>(z, h, y, gate, nodes);
    case 8: return gated_forward_fixed<8>(z, h, y, gate, nodes);
    case 16: return gated_forward_fixed<16>(z, h, y, gate, nodes);
    default: return gated_forward_fixed<0>(z, h, y, gate, nodes);
  }
}

// da = dy s where a > 0; db = dy relu(a) s (1 - s) = dy y (1 - s).
CG_CLONES void gated_backward(const Lanes* __restrict y, const Lanes* __restrict gate, int h,
                              const Lanes* __restrict dy, Lanes* __restrict dz, int nodes) {
  for (int n = 0; n < nodes; ++n) {
    const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(n) * h;
    Lanes* da = dz + static_cast<std::ptrdiff_t>(n) * 2 * h;
    Lanes* db = da + h;
    for (int j = 0; j < h; ++j) {
      const Lanes s = gate[at + j], yj = y[at + j], d = dy[at + j];
      da[j] = yj > 0.0f ? d * s : Lanes{};
      db[j] = d * yj * (1.0f - s);
    }
  }
}

CG_CLONES void sigmoid_forward(Lanes* __restrict z, std::ptrdiff_t count) {
  sigmoid_blocks(count, [&](std::ptrdiff_t i) { return z[i]; }, [&](std::ptrdiff_t i, Lanes v) { z[i] = v; });
}

CG_CLONES void sigmoid_backward(const Lanes* __restrict p, const Lanes* __restrict dp, Lanes* __restrict dz,
                                std::ptrdiff_t count) {
  for (std::ptrdiff_t i = 0; i < count; ++i) dz[i] = dp[i] * p[i] * (1.0f - p[i]);
}

// Transposes a 16 x 16 block of floats in registers: stage b swaps bit b of the row index with
// bit b of the column index, row r (bit b clear) with row r + 2^b, one two-vector shuffle each.
template <int Bit>
CG_INLINE void transpose_stage(Lanes* __restrict v) {
  IntLanes low, high;
  for (int c = 0; c < kLanes; ++c) {
    const bool set = (c >> Bit) & 1;
    low[c] = set ? kLanes + (c ^ (1 << Bit)) : c;
    high[c] = set ? kLanes + c : c ^ (1 << Bit);
  }
  for (int r = 0; r < kLanes; ++r) {
    if ((r >> Bit) & 1) continue;
    const Lanes a = v[r], b = v[r + (1 << Bit)];
    v[r] = __builtin_shuffle(a, b, low);
    v[r + (1 << Bit)] = __builtin_shuffle(a, b, high);
  }
}

CG_INLINE void transpose(Lanes* __restrict v) {
  static_assert(kLanes == 16, "four stages of bit swaps");
  transpose_stage<0>(v);
  transpose_stage<1>(v);
  transpose_stage<2>(v);
  transpose_stage<3>(v);
}

// The group's input [node][scale x channel][lane] from the windows' day-major rows, in two
// passes. First, per lane, the four weighted sums over its L days, a vector of columns at a
// time with the sums in registers, along whole rows: L long sequential streams that the
// hardware prefetcher follows (node blocks made hundreds of short runs, and the loads waited
// on memory). The sums go to a lane-major scratch in L2, which the second pass transposes
// into the lane-innermost input one full vector at a time.
constexpr std::int64_t kSmoothScales = TrainingData::kSmoothingScales;

CG_CLONES void smooth_into_lanes(const float* const* windows, int count, std::int64_t nodes, std::int64_t channels,
                                 std::int32_t lookback, const float* __restrict weights, float* __restrict out,
                                 float* __restrict scratch) {
  static_assert(kSmoothScales == 4, "the row loop keeps one sum per scale in a0..a3");
  const std::int64_t row = nodes * channels, in = kSmoothScales * channels;
  for (int k = 0; k < count; ++k) {
    float* __restrict acc = scratch + k * kSmoothScales * row;
    const float* __restrict first = windows[k];
    std::int64_t j = 0;
    for (; j + kLanes <= row; j += kLanes) {
      Lanes a0{}, a1{}, a2{}, a3{};
      for (std::int32_t l = 0; l < lookback; ++l) {
        UnalignedLanes v;
        std::memcpy(&v, first + l * row + j, sizeof v);
        a0 += weights[l] * v;
        a1 += weights[lookback + l] * v;
        a2 += weights[2 * lookback + l] * v;
        a3 += weights[3 * lookback + l] * v;
      }
      std::memcpy(acc + j, &a0, sizeof a0);
      std::memcpy(acc + row + j, &a1, sizeof a1);
      std::memcpy(acc + 2 * row + j, &a2, sizeof a2);
      std::memcpy(acc + 3 * row + j, &a3, sizeof a3);
    }
    for (; j < row; ++j) {
      float sum[kSmoothScales] = {};
      for (std::int32_t l = 0; l < lookback; ++l)
        for (std::int64_t sc = 0; sc < kSmoothScales; ++sc) sum[sc] += weights[sc * lookback + l] * first[l * row + j];
      for (std::int64_t sc = 0; sc < kSmoothScales; ++sc) acc[sc * row + j] = sum[sc];
    }
  }
  // Column m = node x channels + channel of scale sc goes to the input's feature sc x channels
  // + channel of that node: 16 columns at a time by a register transpose, the rest one by one.
  Lanes* lanes_out = reinterpret_cast<Lanes*>(out);
  for (std::int64_t sc = 0; sc < kSmoothScales; ++sc) {
    std::int64_t m = 0;
    for (; m + kLanes <= row; m += kLanes) {
      Lanes block[kLanes];
      for (int k = 0; k < kLanes; ++k) {
        block[k] = Lanes{};
        if (k < count) std::memcpy(&block[k], scratch + (k * kSmoothScales + sc) * row + m, sizeof(Lanes));
      }
      transpose(block);
      std::int64_t node = m / channels, channel = m % channels;
      for (int c = 0; c < kLanes; ++c) {
        lanes_out[node * in + sc * channels + channel] = block[c];
        if (++channel == channels) channel = 0, ++node;
      }
    }
    for (; m < row; ++m) {
      Lanes v{};
      for (int k = 0; k < count; ++k) v[k] = scratch[(k * kSmoothScales + sc) * row + m];
      lanes_out[(m / channels) * in + sc * channels + m % channels] = v;
    }
  }
}

// out[m][k] = rows[k][m] for m < width, k < count (0 for k >= count): windows' cached
// summaries, already in the input's feature order, into lanes.
CG_CLONES void rows_into_lanes(const float* const* rows, int count, std::int64_t width, float* __restrict out) {
  Lanes* lanes_out = reinterpret_cast<Lanes*>(out);
  std::int64_t m = 0;
  for (; m + kLanes <= width; m += kLanes) {
    Lanes block[kLanes];
    for (int k = 0; k < kLanes; ++k) {
      block[k] = Lanes{};
      if (k < count) std::memcpy(&block[k], rows[k] + m, sizeof(Lanes));
    }
    transpose(block);
    for (int c = 0; c < kLanes; ++c) lanes_out[m + c] = block[c];
  }
  for (; m < width; ++m) {
    Lanes v{};
    for (int k = 0; k < count; ++k) v[k] = rows[k][m];
    lanes_out[m] = v;
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

// Gradient accumulators, one lane vector per parameter element.
struct GLDNetGradients::Sums {
  std::vector<LaneBuffer> g_gated_w, g_gated_b, g_self_w, g_self_b, g_local_w;
  LaneBuffer g_out_w, g_out_b;
};

GLDNetGradients::GLDNetGradients(const GLDNetShape& shape) : s_(std::make_unique<Sums>()) {
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

GLDNetGradients::~GLDNetGradients() = default;
GLDNetGradients::GLDNetGradients(GLDNetGradients&&) noexcept = default;
GLDNetGradients& GLDNetGradients::operator=(GLDNetGradients&&) noexcept = default;

struct GLDNetKernel::State {
  GLDNetShape shape;
  const SparseAdjacency* a;
  const SparseAdjacency* at;
  int nodes;
  // Activations, [node][width] lane vectors.
  LaneBuffer input;
  std::vector<LaneBuffer> gated_y, gated_s;  // [H]: the outputs and the gates, per gated layer
  // Which of gated_y's vectors are not all zero, per layer, when its width takes the sparse maps:
  // made by forward() for the next layer's map and kept for backward()'s.
  std::vector<std::vector<std::uint32_t>> gated_nonzero;
  LaneBuffer tile_z;                         // [2H]: a gated layer's pre-activations on one tile
  std::vector<LaneBuffer> ldn_y;             // [units] per diffusion layer
  // Which of ldn_y's vectors are not all zero (nonzero_lanes), per layer, for the sparse maps;
  // also a superset of the layer's grad_z's, which is zero wherever ldn_y is.
  std::vector<std::vector<std::uint32_t>> ldn_nonzero;
  LaneBuffer local, prediction;              // x K_local scratch; the output
  // Backward scratch.
  LaneBuffer grad_out;  // the final activation's gradient, when no diffusion layer takes it as grad_z
  LaneBuffer grad_in, grad_z, grad_local, grad_prediction;
  LaneBuffer tile_grad[2], tile_dz;  // the gated stack's gradients on one tile of nodes
  std::vector<float> smooth_scratch;  // per lane, the window's sums [scale][node x channel]

  int width_after_gated() const {
    return static_cast<int>(shape.gated_layers > 0 ? shape.gated_units : shape.inputs);
  }
  int final_width() const { return shape.ldn_layers > 0 ? static_cast<int>(shape.ldn_units) : width_after_gated(); }
  const LaneBuffer& final_activation() const {
    if (shape.ldn_layers > 0) return ldn_y.back();
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
  for (std::int64_t l = 0; l < shape.gated_layers; ++l) {
    s.gated_y.emplace_back(n * h);
    s.gated_s.emplace_back(n * h);
    widest = std::max(widest, 2 * h);
  }
  if (sparse_units(static_cast<int>(h))) {
    s.gated_nonzero.assign(static_cast<std::size_t>(shape.gated_layers), std::vector<std::uint32_t>(n));
  }
  for (std::int64_t l = 0; l < shape.ldn_layers; ++l) s.ldn_y.emplace_back(n * u);
  if (sparse_units(static_cast<int>(u)) && shape.ldn_layers > 1) {
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
GLDNetKernel::GLDNetKernel(GLDNetKernel&&) noexcept = default;
GLDNetKernel& GLDNetKernel::operator=(GLDNetKernel&&) noexcept = default;

const GLDNetShape& GLDNetKernel::shape() const { return s_->shape; }
std::int32_t GLDNetKernel::nodes() const { return s_->nodes; }
float* GLDNetKernel::input() { return reinterpret_cast<float*>(s_->input.data()); }

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
  if (cached == count && weights == data.cached_smoothing_weights()) return rows_into_lanes(windows, count, n * scales * c, input());
  for (int k = 0; k < count; ++k) windows[k] = data.window_begin(target_days[k], lookback);
  s.smooth_scratch.resize(static_cast<std::size_t>(kLanes * scales * n * c));
  smooth_into_lanes(windows, count, n, c, lookback, weights.data(), input(), s.smooth_scratch.data());
}

namespace {
template <typename Buffer>
auto* rows(Buffer& buffer, int first_node, int width) {
  return buffer.data() + static_cast<std::ptrdiff_t>(first_node) * width;
}
}  // namespace

const float* GLDNetKernel::forward(const GLDNetParams& p) {
  auto& s = *s_;
  const FlushDenormals flush;
  const auto& shape = s.shape;
  const int n = s.nodes, h = static_cast<int>(shape.gated_units), u = static_cast<int>(shape.ldn_units);
  const int inputs = static_cast<int>(shape.inputs), first_width = s.width_after_gated();
  // relu(x K_self + b + A (x K_local)): diffusing x K_local (width `units`) instead of x itself
  // costs no more and is narrower whenever the layer shrinks.
  auto ldn_dense = [&](std::size_t l, const Lanes* x, int in, int t0, int count) {
    dense_pair_forward(x, in, p.ldn_self[l].weight, p.ldn_self[l].bias, p.ldn_local[l].weight, u,
                       rows(s.ldn_y[l], t0, u), rows(s.local, t0, u), count);
  };
  const bool sparse_gated = !s.gated_nonzero.empty();
  for (int t0 = 0; t0 < n; t0 += kTileNodes) {
    const int count = std::min(kTileNodes, n - t0);
    const Lanes* x = rows(s.input, t0, inputs);
    int in = inputs;
    for (std::size_t l = 0; l < static_cast<std::size_t>(shape.gated_layers); ++l) {
      Lanes* y = rows(s.gated_y[l], t0, h);
      Lanes* gate = rows(s.gated_s[l], t0, h);
      if (sparse_gated && l > 0) {
        sparse_gated_map(x, s.gated_nonzero[l - 1].data() + t0, h, p.gated[l].weight, p.gated[l].bias,
                         s.tile_z.data(), count);
      } else {
        dense_forward(x, in, p.gated[l].weight, p.gated[l].bias, 2 * h, s.tile_z.data(), count);
      }
      gated_forward(s.tile_z.data(), h, y, gate, count);
      // The mask costs a read of the tile's y, still in cache. Taking the sigmoid only where y
      // is not zero was tried and saved nothing at half density (microbenchmark: the extra
      // rectifying pass, mask and scattered stores cost what the skipped sigmoids saved).
      if (sparse_gated) nonzero_lanes(y, count, h, s.gated_nonzero[l].data() + t0);
      x = y;
      in = h;
    }
    if (shape.ldn_layers > 0) ldn_dense(0, x, first_width, t0, count);
  }
  const bool sparse = !s.ldn_nonzero.empty();
  for (std::size_t l = 0; l < static_cast<std::size_t>(shape.ldn_layers); ++l) {
    auto& y = s.ldn_y[l];
    if (l > 0 && sparse) {
      sparse_layer_forward(s.ldn_y[l - 1].data(), s.ldn_nonzero[l - 1].data(), u, *s.a, p.ldn_self[l].weight,
                           p.ldn_self[l].bias, p.ldn_local[l].weight, s.local.data(), y.data(), n);
    } else {
      if (l > 0) ldn_dense(l, s.ldn_y[l - 1].data(), u, 0, n);
      diffuse(*s.a, s.local.data(), u, y.data(), RowUpdate::AddRelu);
    }
    // The last layer's mask is read only by backward(), which makes it; validation never does.
    if (sparse && l + 1 < s.ldn_y.size()) nonzero_lanes(y.data(), n, u, s.ldn_nonzero[l].data());
  }
  dense_forward(s.final_activation().data(), s.final_width(), p.output.weight, p.output.bias, 1, s.prediction.data(), n);
  sigmoid_forward(s.prediction.data(), n);
  return reinterpret_cast<const float*>(s.prediction.data());
}

void GLDNetKernel::backward(const GLDNetParams& p, const float* grad_prediction, GLDNetGradients& into) {
  auto& s = *s_;
  const FlushDenormals flush;
  auto& g = *into.s_;
  const auto& shape = s.shape;
  const int n = s.nodes, h = static_cast<int>(shape.gated_units), u = static_cast<int>(shape.ldn_units);
  const int inputs = static_cast<int>(shape.inputs);
  std::memcpy(s.grad_prediction.data(), grad_prediction, sizeof(Lanes) * static_cast<std::size_t>(n));
  // Output layer: dz = dp p (1 - p). The gradient of its input goes to grad_out, or, behind a
  // diffusion layer, through that layer's ReLU to grad_z.
  const bool diffusion = shape.ldn_layers > 0;
  sigmoid_backward(s.prediction.data(), s.grad_prediction.data(), s.grad_prediction.data(), n);
  dense_backward(s.final_activation().data(), s.final_width(), s.grad_prediction.data(), 1, p.output.weight,
                 g.g_out_w.data(), g.g_out_b.data(), diffusion ? s.grad_z.data() : s.grad_out.data(), false,
                 diffusion ? s.ldn_y.back().data() : nullptr, n);
  // Diffusion layers from the last, with grad_z = dy [y > 0]: d(x K_local) = A^T dz; the dense
  // maps' backward for all but the first, whose dense part runs with the gated stack on tiles.
  if (!s.ldn_nonzero.empty()) nonzero_lanes(s.ldn_y.back().data(), n, u, s.ldn_nonzero.back().data());
  for (std::int64_t l = shape.ldn_layers - 1; l >= 0; --l) {
    const auto li = static_cast<std::size_t>(l);
    if (l == 0) {
      diffuse(*s.at, s.grad_z.data(), u, s.grad_local.data(), RowUpdate::Assign);
      break;
    }
    const Lanes* x = s.ldn_y[li - 1].data();
    if (!s.ldn_nonzero.empty()) {
      // Makes A^T dz itself, a block of nodes at a time; grad_z is zero wherever ldn_y is.
      sparse_pair_backward(x, s.ldn_nonzero[li - 1].data(), u, s.grad_z.data(), s.ldn_nonzero[li].data(), *s.at,
                           p.ldn_self[li].weight, g.g_self_w[li].data(), g.g_self_b[li].data(), p.ldn_local[li].weight,
                           g.g_local_w[li].data(), s.grad_in.data(), n);
    } else {
      diffuse(*s.at, s.grad_z.data(), u, s.grad_local.data(), RowUpdate::Assign);
      dense_pair_backward(x, u, s.grad_z.data(), u, p.ldn_self[li].weight, g.g_self_w[li].data(),
                          g.g_self_b[li].data(), s.grad_local.data(), p.ldn_local[li].weight,
                          g.g_local_w[li].data(), s.grad_in.data(), x, n);
    }
    std::swap(s.grad_z, s.grad_in);
  }
  const bool gated = shape.gated_layers > 0, sparse_gated = gated && !s.gated_nonzero.empty();
  const int first_width = s.width_after_gated();
  for (int t0 = 0; t0 < n; t0 += kTileNodes) {
    const int count = std::min(kTileNodes, n - t0);
    // The gradient of the tile's current activation alternates between two tile buffers.
    Lanes* grad_out = s.tile_grad[0].data();
    Lanes* grad_in = s.tile_grad[1].data();
    Lanes* dz = s.tile_dz.data();
    if (shape.ldn_layers > 0) {
      const Lanes* x = gated ? rows(s.gated_y.back(), t0, h) : rows(s.input, t0, inputs);
      Lanes* dx = gated ? grad_in : nullptr;
      dense_pair_backward(x, first_width, rows(s.grad_z, t0, u), u, p.ldn_self[0].weight, g.g_self_w[0].data(),
                          g.g_self_b[0].data(), rows(s.grad_local, t0, u), p.ldn_local[0].weight,
                          g.g_local_w[0].data(), dx, nullptr, count);
      std::swap(grad_out, grad_in);
    } else {
      std::copy_n(rows(s.grad_out, t0, first_width), static_cast<std::ptrdiff_t>(count) * first_width, grad_out);
    }
    for (std::int64_t l = shape.gated_layers - 1; l >= 0; --l) {
      const auto li = static_cast<std::size_t>(l);
      const int in = l == 0 ? inputs : h;
      const Lanes* x = l == 0 ? rows(s.input, t0, inputs) : rows(s.gated_y[li - 1], t0, h);
      Lanes* dx = l > 0 ? grad_in : nullptr;
      gated_backward(rows(s.gated_y[li], t0, h), rows(s.gated_s[li], t0, h), h, grad_out, dz, count);
      // forward()'s masks of this layer's output and (above layer 0) of its input.
      const std::uint32_t* y_nonzero = sparse_gated ? s.gated_nonzero[li].data() + t0 : nullptr;
      const std::uint32_t* x_nonzero = sparse_gated && l > 0 ? s.gated_nonzero[li - 1].data() + t0 : nullptr;
      if (!sparse_gated || !sparse_gated_map_backward(x, x_nonzero, in, dz, y_nonzero, h, p.gated[li].weight,
                                                      g.g_gated_w[li].data(), g.g_gated_b[li].data(), dx, count)) {
        dense_backward(x, in, dz, 2 * h, p.gated[li].weight, g.g_gated_w[li].data(), g.g_gated_b[li].data(), dx,
                       false, nullptr, count);
      }
      std::swap(grad_out, grad_in);
    }
  }
}

void GLDNetGradients::write(const GLDNetParams& p, bool add) {
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

std::vector<float> smoothed_window_table(const TrainingData& data, std::int32_t lookback) {
  const FlushDenormals flush;
  const std::int64_t n = data.nodes(), c = data.channels(), width = n * data.smoothed_width();
  const auto weights = TrainingData::smoothing_weights(lookback);
  std::vector<float> table(static_cast<std::size_t>(data.days() * width), 0.0f);
  LaneBuffer lanes(static_cast<std::size_t>(width));
  std::vector<float> scratch(static_cast<std::size_t>(kLanes * TrainingData::kSmoothingScales * n * c));
  for (std::int32_t t0 = lookback; t0 < data.days(); t0 += kLanes) {
    const int count = std::min<std::int32_t>(kLanes, data.days() - t0);
    const float* windows[kLanes];
    for (int k = 0; k < count; ++k) windows[k] = data.window_begin(t0 + k, lookback);
    smooth_into_lanes(windows, count, n, c, lookback, weights.data(), reinterpret_cast<float*>(lanes.data()),
                      scratch.data());
    for (int k = 0; k < count; ++k) {
      float* row = table.data() + static_cast<std::size_t>(t0 + k) * width;
      for (std::int64_t m = 0; m < width; ++m) row[m] = lanes[static_cast<std::size_t>(m)][k];
    }
  }
  return table;
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
