// The GLDNet kernel's vector code. Highway's foreach_target includes this file once per SIMD
// target, each time in that target's namespace and compiled for its instruction set; the part
// under HWY_ONCE, compiled once, lists the targets. gldnet_kernel.cpp chooses one at run time.
//
// Each target holds a group's 16 windows as `Lanes`, kParts vectors of its own width, so every
// value stays in registers on every target. All arithmetic is written as explicit operations
// (the file is compiled without floating-point contraction): a multiply-add is fused exactly
// where the code says so and the target has FMA, so targets of any width round alike.

// SSSE3 (a Core 2 of 2006) would take compile time and no cluster node needs it; SVE and RVV
// vectors have no compile-time size, which arrays of vectors need.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SSSE3 | HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "crimegraph/model/training_data.hpp"
#include "model/gldnet_kernel_state.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "model/gldnet_kernel_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace crimegraph::detail {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;

using D = hn::CappedTag<float, kLanes>;
using DI = hn::RebindToSigned<D>;
using V = hn::Vec<D>;
using VI = hn::Vec<DI>;
constexpr int kWidth = static_cast<int>(hn::MaxLanes(D()));
constexpr int kParts = kLanes / kWidth;
static_assert(kParts * kWidth == kLanes, "a group's windows fill whole vectors");

#define CG_INLINE HWY_INLINE
#define CG_EACH_PART(p, count) _Pragma("GCC unroll 16") for (int p = 0; p < (count); ++p)

// A group's 16 windows, one value each, in kParts registers (Lanes; in memory a LaneBlock), or
// some of them (Group<1>: one register's windows). The windows are independent of each other,
// so a loop may run over the whole group at once or over its slices one after another: the
// maps that keep many sums in registers run slice by slice, which on every target needs as
// many registers as one AVX-512 vector of sums would.
template <int P>
struct Group {
  // Declared, so that it is compiled for the target: NEON's vectors have a constructor of their
  // own, which an implicit one would call without the target's instructions.
  HWY_INLINE Group() {}
  V part[P];
};
using Lanes = Group<kParts>;
static_assert(sizeof(Lanes) == sizeof(LaneBlock), "one layout for every target");

// Registers the target has for vectors: 32 on AVX-512 and AArch64, 16 on the others; the
// portable baseline's vectors are arrays the compiler places itself, fastest whole.
#if HWY_TARGET == HWY_EMU128 || HWY_TARGET == HWY_SCALAR
constexpr int kVectorRegisters = 1024;
#elif HWY_TARGET == HWY_AVX3 || HWY_ARCH_ARM_A64
constexpr int kVectorRegisters = 32;
#else
constexpr int kVectorRegisters = 16;
#endif

// Parts p0 .. p0 + P of a group in memory, and their store.
template <int P>
CG_INLINE Group<P> parts(const Lanes& x, int p0) {
  Group<P> g;
  for (int q = 0; q < P; ++q) g.part[q] = x.part[p0 + q];
  return g;
}
template <int P>
CG_INLINE void set_parts(Lanes& x, int p0, const Group<P>& g) {
  for (int q = 0; q < P; ++q) x.part[p0 + q] = g.part[q];
}

// The parts a loop takes at once when it keeps `sums` sums per part in registers: the whole
// group when they fit in about three quarters of the registers, else one part at a time.
template <int Sums>
constexpr int kPartsAtOnce = Sums * kParts <= kVectorRegisters * 3 / 4 ? kParts : 1;

// The buffers are LaneBlocks; this file reads them as its own Lanes (the translation unit is
// compiled with -fno-strict-aliasing).
CG_INLINE Lanes* lanes(LaneBuffer& b) { return reinterpret_cast<Lanes*>(b.data()); }
CG_INLINE const Lanes* lanes(const LaneBuffer& b) { return reinterpret_cast<const Lanes*>(b.data()); }
template <typename Buffer>
CG_INLINE auto* rows(Buffer& buffer, int first_node, int width) {
  return lanes(buffer) + static_cast<std::ptrdiff_t>(first_node) * width;
}

// The operations on groups and slices alike.
template <int P = kParts>
CG_INLINE Group<P> zero() {
  Group<P> r;
  CG_EACH_PART(p, P) r.part[p] = hn::Zero(D());
  return r;
}
template <int P = kParts>
CG_INLINE Group<P> splat(float v) {
  Group<P> r;
  const V s = hn::Set(D(), v);
  CG_EACH_PART(p, P) r.part[p] = s;
  return r;
}
template <int P>
CG_INLINE Group<P> operator+(Group<P> a, const Group<P>& b) {
  CG_EACH_PART(p, P) a.part[p] = hn::Add(a.part[p], b.part[p]);
  return a;
}
template <int P>
CG_INLINE Group<P> operator-(Group<P> a, const Group<P>& b) {
  CG_EACH_PART(p, P) a.part[p] = hn::Sub(a.part[p], b.part[p]);
  return a;
}
template <int P>
CG_INLINE Group<P> operator*(Group<P> a, const Group<P>& b) {
  CG_EACH_PART(p, P) a.part[p] = hn::Mul(a.part[p], b.part[p]);
  return a;
}
template <int P>
CG_INLINE Group<P> operator*(float w, Group<P> x) {
  const V s = hn::Set(D(), w);
  CG_EACH_PART(p, P) x.part[p] = hn::Mul(s, x.part[p]);
  return x;
}
template <int P>
CG_INLINE Group<P>& operator+=(Group<P>& a, const Group<P>& b) {
  return a = a + b;
}

// a x + c, rounded once on targets with FMA.
template <int P>
CG_INLINE Group<P> mul_add(const Group<P>& a, const Group<P>& x, Group<P> c) {
  CG_EACH_PART(p, P) c.part[p] = hn::MulAdd(a.part[p], x.part[p], c.part[p]);
  return c;
}
template <int P>
CG_INLINE Group<P> mul_add(float a, const Group<P>& x, Group<P> c) {
  const V s = hn::Set(D(), a);
  CG_EACH_PART(p, P) c.part[p] = hn::MulAdd(s, x.part[p], c.part[p]);
  return c;
}
// c - a x.
template <int P>
CG_INLINE Group<P> neg_mul_add(const Group<P>& a, const Group<P>& x, Group<P> c) {
  CG_EACH_PART(p, P) c.part[p] = hn::NegMulAdd(a.part[p], x.part[p], c.part[p]);
  return c;
}

// NaN passes through relu and the clamps (as in LibTorch), so a diverging trial is seen as one.
template <int P>
CG_INLINE Group<P> relu(Group<P> x) {
  const V z = hn::Zero(D());
  CG_EACH_PART(p, P) x.part[p] = hn::IfThenZeroElse(x.part[p] < z, x.part[p]);
  return x;
}
CG_INLINE Lanes clamp_above(Lanes x, float high) {
  const V hi = hn::Set(D(), high);
  CG_EACH_PART(p, kParts) x.part[p] = hn::IfThenElse(x.part[p] > hi, hi, x.part[p]);
  return x;
}
CG_INLINE Lanes clamp(Lanes x, float low, float high) {
  const V lo = hn::Set(D(), low);
  CG_EACH_PART(p, kParts) x.part[p] = hn::IfThenElse(x.part[p] < lo, lo, x.part[p]);
  return clamp_above(x, high);
}
// v where c > 0, 0 elsewhere (and where c is NaN).
template <int P>
CG_INLINE Group<P> where_positive(const Group<P>& c, Group<P> v) {
  const V z = hn::Zero(D());
  CG_EACH_PART(p, P) v.part[p] = hn::IfThenElseZero(c.part[p] > z, v.part[p]);
  return v;
}
// True when any window's value is not zero (NaN counts as not zero, -0 as zero).
CG_INLINE bool any_nonzero(const Lanes& v) {
  const DI di;
  VI bits = hn::BitCast(di, v.part[0]);
  for (int p = 1; p < kParts; ++p) bits = hn::Or(bits, hn::BitCast(di, v.part[p]));
  bits = hn::And(bits, hn::Set(di, 0x7fffffff));
  return !hn::AllTrue(di, bits == hn::Zero(di));
}

// The elementwise functions work on blocks of K vectors a step at a time: each vector's
// exp and reciprocal are one long chain of dependent operations, and the out-of-order window
// cannot hold enough of them one after another to overlap them; stepping K side by side can.
#define CG_EACH(k) _Pragma("GCC unroll 16") for (int k = 0; k < K; ++k)

// exp(x) with a relative error below 2e-7: Cody-Waite range reduction and the Cephes
// polynomial, on whole vectors.
template <int K>
CG_INLINE void vexp(Lanes* __restrict x) {
  Lanes n[K], r[K], q[K];
  const Lanes round = splat(12582912.0f);  // 1.5 x 2^23: adding it rounds to an integer
  CG_EACH(k) x[k] = clamp(x[k], -87.0f, 88.0f);
  CG_EACH(k) n[k] = mul_add(1.44269504088896341f, x[k], round) - round;
  CG_EACH(k) r[k] = mul_add(2.12194440e-4f, n[k], neg_mul_add(splat(0.693359375f), n[k], x[k]));
  CG_EACH(k) q[k] = mul_add(1.9875691500e-4f, r[k], splat(1.3981999507e-3f));
  CG_EACH(k) q[k] = mul_add(q[k], r[k], splat(8.3334519073e-3f));
  CG_EACH(k) q[k] = mul_add(q[k], r[k], splat(4.1665795894e-2f));
  CG_EACH(k) q[k] = mul_add(q[k], r[k], splat(1.6666665459e-1f));
  CG_EACH(k) q[k] = mul_add(q[k], r[k], splat(5.0000001201e-1f));
  CG_EACH(k) q[k] = mul_add(q[k] * r[k], r[k], r[k]) + splat(1.0f);
  const DI di;
  CG_EACH(k) {
    CG_EACH_PART(p, kParts) {
      const VI bits = hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, n[k].part[p]), hn::Set(di, 127)));
      x[k].part[p] = hn::Mul(q[k].part[p], hn::BitCast(D(), bits));  // the bits as floats: 2^n
    }
  }
}

// 1/d for d in [1, 1e37]: a bit-trick first guess (12% off) and three Newton steps (each
// squares the error: 4e-8). A vector division costs several times as much.
template <int K>
CG_INLINE void vreciprocal(Lanes* __restrict d) {
  Lanes r[K];
  const DI di;
  CG_EACH(k) {
    CG_EACH_PART(p, kParts) {
      r[k].part[p] = hn::BitCast(D(), hn::Sub(hn::Set(di, 0x7EF311C3), hn::BitCast(di, d[k].part[p])));
    }
  }
  const Lanes two = splat(2.0f);
  for (int step = 0; step < 3; ++step) {
    CG_EACH(k) r[k] = r[k] * neg_mul_add(d[k], r[k], two);
  }
  CG_EACH(k) d[k] = r[k];
}

// The clamp keeps 1/d a normal float (a denormal would cost microcode assists); sigmoid
// below 1e-37 is 0 for training. NaN fails the comparison and passes through.
template <int K>
CG_INLINE void vsigmoid(Lanes* __restrict x) {
  CG_EACH(k) {
    CG_EACH_PART(p, kParts) x[k].part[p] = hn::Neg(x[k].part[p]);
  }
  vexp<K>(x);
  CG_EACH(k) x[k] = clamp_above(splat(1.0f) + x[k], 1e37f);
  vreciprocal<K>(x);
}

// store(e, sigmoid(load(e))) for e in [0, count), kElementBlock at a time: as many as fit the
// registers (an exp takes about four vectors of each group it steps).
constexpr int kElementBlock = std::clamp(kVectorRegisters / (4 * kParts), 1, 8);
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
    for (int i = 0; i < in; ++i) acc = mul_add(wo[i], xn[i], acc);
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
template <int P>
CG_INLINE Group<P> masked(const Group<P>& v, const Lanes* __restrict mask, int i, int p0) {
  return mask ? where_positive(parts<P>(mask[i], p0), v) : v;
}

// With Pair, the row also takes the second map's sum_o w2[o][i] dz2[n][o], after the first's.
template <int In, bool Pair>
CG_INLINE void input_gradient_row(const Lanes* __restrict dzn, int out, const float* __restrict w,
                                  const Lanes* __restrict dz2n, const float* __restrict w2, Lanes* __restrict dxn,
                                  bool accumulate, const Lanes* __restrict maskn) {
  // Inputs in chunks of up to 8 sums held in registers while the outputs stream by: one sum
  // at a time made each input a chain of `out` dependent multiply-adds.
  constexpr int kChunk = In < 8 ? In : 8;
  constexpr int P = kPartsAtOnce<kChunk + 1>;
  using G = Group<P>;
  for (int p0 = 0; p0 < kParts; p0 += P) {
    for (int i0 = 0; i0 < In; i0 += kChunk) {
      const int width = std::min(kChunk, In - i0);
      G acc[kChunk];
      for (int i = 0; i < kChunk; ++i) acc[i] = accumulate && i < width ? parts<P>(dxn[i0 + i], p0) : zero<P>();
      for (int o = 0; o < out; ++o) {
        const G d = parts<P>(dzn[o], p0);
        const float* wo = w + static_cast<std::ptrdiff_t>(o) * In + i0;
        for (int i = 0; i < kChunk; ++i)
          if (i < width) acc[i] = mul_add(wo[i], d, acc[i]);
      }
      if constexpr (Pair) {
        for (int o = 0; o < out; ++o) {
          const G d = parts<P>(dz2n[o], p0);
          const float* wo = w2 + static_cast<std::ptrdiff_t>(o) * In + i0;
          for (int i = 0; i < kChunk; ++i)
            if (i < width) acc[i] = mul_add(wo[i], d, acc[i]);
        }
      }
      for (int i = 0; i < kChunk; ++i)
        if (i < width) set_parts(dxn[i0 + i], p0, masked(acc[i], maskn, i0 + i, p0));
    }
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
  constexpr int P = kPartsAtOnce<kSets*(In + 1) + 1>;
  using G = Group<P>;
  for (int p0 = 0; p0 < kParts; p0 += P) {
    for (int o = 0; o < Out; ++o) {
      G acc[kSets][In], bias[kSets];
      for (int t = 0; t < kSets; ++t) {
        bias[t] = zero<P>();
        for (int i = 0; i < In; ++i) acc[t][i] = zero<P>();
      }
      int n = n0;
      for (; n + kSets <= n1; n += kSets) {
        for (int t = 0; t < kSets; ++t) {
          const G d = parts<P>(dz[static_cast<std::ptrdiff_t>(n + t) * Out + o], p0);
          const Lanes* xn = x + static_cast<std::ptrdiff_t>(n + t) * In;
          bias[t] += d;
          for (int i = 0; i < In; ++i) acc[t][i] = mul_add(d, parts<P>(xn[i], p0), acc[t][i]);
        }
      }
      for (; n < n1; ++n) {
        const G d = parts<P>(dz[static_cast<std::ptrdiff_t>(n) * Out + o], p0);
        const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * In;
        bias[0] += d;
        for (int i = 0; i < In; ++i) acc[0][i] = mul_add(d, parts<P>(xn[i], p0), acc[0][i]);
      }
      Lanes* g = gw + static_cast<std::ptrdiff_t>(o) * In;
      for (int t = 0; t < kSets; ++t) {
        for (int i = 0; i < In; ++i) set_parts(g[i], p0, parts<P>(g[i], p0) + acc[t][i]);
        if (gb) set_parts(gb[o], p0, parts<P>(gb[o], p0) + bias[t]);
      }
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
    // Blocks of nodes whose x and dz rows fit L1 together (32 KB), so that each output's pass
    // over the block's x hits L1: a larger block cycled through L1 and every load went to L2.
    // The block's dx is computed while its dz is still there. A pair keeps the single map's
    // blocks (the gradient sums add in the same order, so the fused pass gives bit for bit the
    // same gradients), though the second map's dz rows add to its footprint.
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
      for (int i = 0; i < in; ++i) g[i] = mul_add(d, xn[i], g[i]);
    }
  }
  if (dx) {
    for (int n = 0; n < nodes; ++n) {
      const Lanes* dzn = dz + static_cast<std::ptrdiff_t>(n) * out;
      Lanes* dxn = dx + static_cast<std::ptrdiff_t>(n) * in;
      const Lanes* maskn = dx_mask ? dx_mask + static_cast<std::ptrdiff_t>(n) * in : nullptr;
      for (int i = 0; i < in; ++i) {
        Lanes acc = accumulate_dx ? dxn[i] : zero();
        for (int o = 0; o < out; ++o) acc = mul_add(w[static_cast<std::ptrdiff_t>(o) * in + i], dzn[o], acc);
        dxn[i] = masked(acc, maskn, i, 0);
      }
    }
  }
}

// Calls FN<in, out>(args) for the widths GLDNet uses (inputs 12; units 2-16; gated outputs
// twice the units; the output layer 1), FN<0, 0> otherwise.
#define CG_CASE_OUT(FN, IN, ...)             \
  switch (out) {                             \
    case 1: return FN<IN, 1>(__VA_ARGS__);   \
    case 2: return FN<IN, 2>(__VA_ARGS__);   \
    case 4: return FN<IN, 4>(__VA_ARGS__);   \
    case 8: return FN<IN, 8>(__VA_ARGS__);   \
    case 16: return FN<IN, 16>(__VA_ARGS__); \
    case 32: return FN<IN, 32>(__VA_ARGS__); \
    default: return FN<0, 0>(__VA_ARGS__);   \
  }
#define CG_DISPATCH_WIDTHS(FN, ...)           \
  switch (in) {                               \
    case 2: CG_CASE_OUT(FN, 2, __VA_ARGS__)   \
    case 4: CG_CASE_OUT(FN, 4, __VA_ARGS__)   \
    case 8: CG_CASE_OUT(FN, 8, __VA_ARGS__)   \
    case 12: CG_CASE_OUT(FN, 12, __VA_ARGS__) \
    case 16: CG_CASE_OUT(FN, 16, __VA_ARGS__) \
    default: return FN<0, 0>(__VA_ARGS__);    \
  }

// The same for a diffusion layer's pair of maps, whose outputs are the layer's units (2-16).
#define CG_CASE_UNITS(FN, IN, ...)           \
  switch (out) {                             \
    case 2: return FN<IN, 2>(__VA_ARGS__);   \
    case 4: return FN<IN, 4>(__VA_ARGS__);   \
    case 8: return FN<IN, 8>(__VA_ARGS__);   \
    case 16: return FN<IN, 16>(__VA_ARGS__); \
    default: return FN<0, 0>(__VA_ARGS__);   \
  }
#define CG_DISPATCH_UNITS(FN, ...)              \
  switch (in) {                                 \
    case 2: CG_CASE_UNITS(FN, 2, __VA_ARGS__)   \
    case 4: CG_CASE_UNITS(FN, 4, __VA_ARGS__)   \
    case 8: CG_CASE_UNITS(FN, 8, __VA_ARGS__)   \
    case 12: CG_CASE_UNITS(FN, 12, __VA_ARGS__) \
    case 16: CG_CASE_UNITS(FN, 16, __VA_ARGS__) \
    default: return FN<0, 0>(__VA_ARGS__);      \
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

void dense_forward(const Lanes* __restrict x, int in, const float* __restrict w, const float* __restrict b, int out,
                   Lanes* __restrict z, int nodes) {
  CG_DISPATCH_WIDTHS(dense_forward_fixed, x, in, w, b, out, z, nodes)
}

void dense_pair_forward(const Lanes* __restrict x, int in, const float* __restrict w, const float* __restrict b,
                        const float* __restrict w2, int out, Lanes* __restrict z, Lanes* __restrict z2, int nodes) {
  CG_DISPATCH_UNITS(dense_pair_forward_fixed, x, in, w, b, w2, out, z, z2, nodes)
}

void dense_backward(const Lanes* __restrict x, int in, const Lanes* __restrict dz, int out, const float* __restrict w,
                    Lanes* __restrict gw, Lanes* __restrict gb, Lanes* __restrict dx, bool accumulate_dx,
                    const Lanes* __restrict dx_mask, int nodes) {
  CG_DISPATCH_WIDTHS(dense_single_backward_fixed, x, in, dz, out, w, gw, gb, dx, accumulate_dx, dx_mask, nodes)
}

// dx (when not null) is written, not accumulated; dx_mask applies to the sum of both parts.
void dense_pair_backward(const Lanes* __restrict x, int in, const Lanes* __restrict dz, int out,
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
  // The row's sums stay in registers while its neighbours pass: the whole row where it takes
  // at most half the registers, else 8 features at a time, in parts that fit them.
  constexpr bool kWhole = Width > 0 && Width * kParts <= kVectorRegisters / 2;
  constexpr int kWide = kWhole ? Width : (Width > 0 ? std::min(Width, 8) : 8);
  constexpr int P = kPartsAtOnce<kWide + 2>;
  using G = Group<P>;
  for (std::int32_t r = r0; r < r1; ++r) {
    Lanes* yr = y + static_cast<std::ptrdiff_t>(r - r0) * w;
    const auto k0 = m.row_ptr[r], k1 = m.row_ptr[r + 1];
    for (int p0 = 0; p0 < kParts; p0 += P) {
      for (int f0 = 0; f0 < w; f0 += kWide) {
        const int fw = std::min(kWide, w - f0);
        G acc[kWide];
        for (int f = 0; f < kWide; ++f) {
          acc[f] = Update == RowUpdate::AddRelu && f < fw ? parts<P>(yr[f0 + f], p0) : zero<P>();
        }
        for (auto k = k0; k < k1; ++k) {
          const float v = m.value[static_cast<std::size_t>(k)];
          const Lanes* xk = x + static_cast<std::ptrdiff_t>(m.col[static_cast<std::size_t>(k)]) * w + f0;
          for (int f = 0; f < kWide; ++f)
            if (f < fw) acc[f] = mul_add(v, parts<P>(xk[f], p0), acc[f]);
        }
        for (int f = 0; f < kWide; ++f) {
          if (f < fw) set_parts(yr[f0 + f], p0, Update == RowUpdate::AddRelu ? relu(acc[f]) : acc[f]);
        }
      }
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

void diffuse(const SparseAdjacency& m, const Lanes* __restrict x, int width, Lanes* __restrict y, RowUpdate update) {
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

// Bit i of mask[r] is set when any window's x[r][i] is not zero. The width is fixed where it
// can be, so that the loop unrolls: the tests of a row are then independent of each other
// rather than a chain through the mask.
template <int Width>
CG_INLINE void nonzero_lanes_fixed(const Lanes* __restrict x, std::int64_t rows, int width_rt,
                                   std::uint32_t* __restrict mask) {
  const int width = Width > 0 ? Width : width_rt;
  for (std::int64_t r = 0; r < rows; ++r) {
    std::uint32_t m = 0;
    for (int i = 0; i < width; ++i) m |= static_cast<std::uint32_t>(any_nonzero(x[r * width + i])) << i;
    mask[r] = m;
  }
}

void nonzero_lanes(const Lanes* x, std::int64_t rows, int width, std::uint32_t* mask) {
  if (width == 8) return nonzero_lanes_fixed<8>(x, rows, width, mask);
  if (width == 16) return nonzero_lanes_fixed<16>(x, rows, width, mask);
  nonzero_lanes_fixed<0>(x, rows, width, mask);
}

// for (each set bit i of bits, lowest first): one mispredicted branch per loop, at its end.
#define CG_EACH_BIT(i, bits)                                                               \
  for (std::uint32_t cg_bits_ = (bits), i;                                                 \
       cg_bits_ != 0 && ((i = static_cast<std::uint32_t>(__builtin_ctz(cg_bits_))), true); \
       cg_bits_ &= cg_bits_ - 1)

// acc[o] = b[o] (0 without b) + sum over the non-zero inputs i of w[o][i] xn[i], on parts
// p0 .. p0 + P.
template <int In, int Out, int P>
CG_INLINE void sparse_row(const Lanes* __restrict xn, std::uint32_t nonzero, const float* __restrict w,
                          const float* __restrict b, Group<P>* __restrict acc, int p0) {
  for (int o = 0; o < Out; ++o) acc[o] = splat<P>(b ? b[o] : 0.0f);
  CG_EACH_BIT(i, nonzero) {
    const Group<P> xi = parts<P>(xn[i], p0);
    const float* wi = w + i;  // a pointer, so that each weight's address is a constant offset
    for (int o = 0; o < Out; ++o) acc[o] = mul_add(wi[o * In], xi, acc[o]);
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
  constexpr int P = kPartsAtOnce<Out + 2>;
  for (int n = 0; n < nodes; ++n) {
    Lanes* ln = local + static_cast<std::ptrdiff_t>(n) * Out;
    for (int p0 = 0; p0 < kParts; p0 += P) {
      Group<P> acc[Out];
      sparse_row<In, Out>(x + static_cast<std::ptrdiff_t>(n) * In, x_nonzero[n], w2, nullptr, acc, p0);
      for (int o = 0; o < Out; ++o) set_parts(ln[o], p0, acc[o]);
    }
  }
  for (int r = 0; r < nodes; ++r) {
    Lanes* yr = y + static_cast<std::ptrdiff_t>(r) * Out;
    for (int p0 = 0; p0 < kParts; p0 += P) {
      Group<P> acc[Out];
      sparse_row<In, Out>(x + static_cast<std::ptrdiff_t>(r) * In, x_nonzero[r], w, b, acc, p0);
      for (auto k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
        const float v = a.value[static_cast<std::size_t>(k)];
        const Lanes* lk = local + static_cast<std::ptrdiff_t>(a.col[static_cast<std::size_t>(k)]) * Out;
        for (int o = 0; o < Out; ++o) acc[o] = mul_add(v, parts<P>(lk[o], p0), acc[o]);
      }
      for (int o = 0; o < Out; ++o) set_parts(yr[o], p0, relu(acc[o]));
    }
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
  constexpr int P = kPartsAtOnce<In + 2>;
  using G = Group<P>;
  for (int o = 0; o < Out; ++o) {
    if (count[o] == 0) continue;
    Lanes* g = gw + static_cast<std::ptrdiff_t>(o) * In;
    for (int p0 = 0; p0 < kParts; p0 += P) {
      G acc[In], bias = zero<P>();
      for (int i = 0; i < In; ++i) acc[i] = zero<P>();
      for (int k = 0; k < count[o]; ++k) {
        const int n = listed[o][k];
        const G d = parts<P>(dz[static_cast<std::ptrdiff_t>(n) * Out + o], p0);
        const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * In;
        bias += d;
        for (int i = 0; i < In; ++i) acc[i] = mul_add(d, parts<P>(xn[i], p0), acc[i]);
      }
      for (int i = 0; i < In; ++i) set_parts(g[i], p0, parts<P>(g[i], p0) + acc[i]);
      if (gb) set_parts(gb[o], p0, parts<P>(gb[o], p0) + bias);
    }
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
  constexpr int P = kPartsAtOnce<kChunk + 1>;
  using G = Group<P>;
  for (int i0 = 0; i0 < In; i0 += kChunk) {
    const bool any = (x_nonzero >> i0) & ((1u << kChunk) - 1);
    for (int p0 = 0; p0 < kParts; p0 += P) {
      G acc[kChunk];
      for (int i = 0; i < kChunk; ++i) acc[i] = zero<P>();
      if (any) {
        CG_EACH_BIT(o, dz_nonzero) {
          const G d = parts<P>(dzn[o], p0);
          const float* wo = w + o * In + i0;
          for (int i = 0; i < kChunk; ++i) acc[i] = mul_add(wo[i], d, acc[i]);
        }
        if constexpr (Pair) {
          CG_EACH_BIT(o, dz2_nonzero) {
            const G d = parts<P>(dz2n[o], p0);
            const float* wo = w2 + o * In + i0;
            for (int i = 0; i < kChunk; ++i) acc[i] = mul_add(wo[i], d, acc[i]);
          }
        }
      }
      for (int i = 0; i < kChunk; ++i) set_parts(dxn[i0 + i], p0, masked(acc[i], xn, i0 + i, p0));
    }
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

void sparse_layer_forward(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero, int units,
                          const SparseAdjacency& a, const float* __restrict w, const float* __restrict b,
                          const float* __restrict w2, Lanes* __restrict local, Lanes* __restrict y, int nodes) {
  if (units == 8) return sparse_layer_forward_fixed<8, 8>(x, x_nonzero, a, w, b, w2, local, y, nodes);
  if (units == 16) return sparse_layer_forward_fixed<16, 16>(x, x_nonzero, a, w, b, w2, local, y, nodes);
  throw std::logic_error("sparse_layer_forward: units");
}

void sparse_pair_backward(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero, int units,
                          const Lanes* __restrict dz, const std::uint32_t* __restrict dz_nonzero,
                          const SparseAdjacency& transposed, const float* __restrict w, Lanes* __restrict gw,
                          Lanes* __restrict gb, const float* __restrict w2, Lanes* __restrict gw2,
                          Lanes* __restrict dx, int nodes) {
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
  constexpr int P = kPartsAtOnce<H + 2>;
  for (int n = 0; n < nodes; ++n) {
    const Lanes* xn = x + static_cast<std::ptrdiff_t>(n) * H;
    Lanes* zn = z + static_cast<std::ptrdiff_t>(n) * 2 * H;
    for (int half = 0; half < 2; ++half) {
      for (int p0 = 0; p0 < kParts; p0 += P) {
        Group<P> acc[H];
        sparse_row<H, H>(xn, x_nonzero[n], w + half * H * H, b + half * H, acc, p0);
        for (int o = 0; o < H; ++o) set_parts(zn[half * H + o], p0, acc[o]);
      }
    }
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

void sparse_gated_map(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero, int h,
                      const float* __restrict w, const float* __restrict b, Lanes* __restrict z, int nodes) {
  if (h == 8) return sparse_gated_map_fixed<8>(x, x_nonzero, w, b, z, nodes);
  if (h == 16) return sparse_gated_map_fixed<16>(x, x_nonzero, w, b, z, nodes);
  throw std::logic_error("sparse_gated_map: units");
}

// False (nothing done) for input widths without a sparse version: the caller runs the dense map.
bool sparse_gated_map_backward(const Lanes* __restrict x, const std::uint32_t* __restrict x_nonzero, int in,
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
      [&](std::ptrdiff_t e, const Lanes& s) {
        gate[e] = s;
        y[e] = relu(*a_of(e)) * s;
      });
}

void gated_forward(const Lanes* __restrict z, int h, Lanes* __restrict y, Lanes* __restrict gate, int nodes) {
  switch (h) {
    case 2: return gated_forward_fixed<2>(z, h, y, gate, nodes);
    case 4: return gated_forward_fixed<4>(z, h, y, gate, nodes);
    case 8: return gated_forward_fixed<8>(z, h, y, gate, nodes);
    case 16: return gated_forward_fixed<16>(z, h, y, gate, nodes);
    default: return gated_forward_fixed<0>(z, h, y, gate, nodes);
  }
}

// da = dy s where a > 0; db = dy relu(a) s (1 - s) = dy y (1 - s).
void gated_backward(const Lanes* __restrict y, const Lanes* __restrict gate, int h, const Lanes* __restrict dy,
                    Lanes* __restrict dz, int nodes) {
  const Lanes one = splat(1.0f);
  for (int n = 0; n < nodes; ++n) {
    const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(n) * h;
    Lanes* da = dz + static_cast<std::ptrdiff_t>(n) * 2 * h;
    Lanes* db = da + h;
    for (int j = 0; j < h; ++j) {
      const Lanes s = gate[at + j], yj = y[at + j], d = dy[at + j];
      da[j] = where_positive(yj, d * s);
      db[j] = d * yj * (one - s);
    }
  }
}

void sigmoid_forward(Lanes* __restrict z, std::ptrdiff_t count) {
  sigmoid_blocks(
      count, [&](std::ptrdiff_t i) { return z[i]; }, [&](std::ptrdiff_t i, const Lanes& v) { z[i] = v; });
}

void sigmoid_backward(const Lanes* __restrict p, const Lanes* __restrict dp, Lanes* __restrict dz,
                      std::ptrdiff_t count) {
  const Lanes one = splat(1.0f);
  for (std::ptrdiff_t i = 0; i < count; ++i) dz[i] = dp[i] * p[i] * (one - p[i]);
}

// Transposes a 16 x 16 block of floats in registers: stage b swaps bit b of the row index with
// bit b of the column index, row r (bit b clear) with row r + 2^b. Where 2^b spans whole
// vectors this swaps registers; within a vector it is a lane permutation and a blend per row.
template <int Bit>
CG_INLINE void transpose_stage(Lanes* __restrict v) {
  constexpr int kStride = 1 << Bit;
  if constexpr (kStride >= kWidth) {
    constexpr int kPartBit = kStride / kWidth;
    for (int r = 0; r < kLanes; ++r) {
      if (r & kStride) continue;
      for (int p = 0; p < kParts; ++p) {
        if (p & kPartBit) continue;
        std::swap(v[r].part[p | kPartBit], v[r + kStride].part[p]);
      }
    }
  } else {
    const D d;
    const DI di;
    HWY_ALIGN std::int32_t neighbour[kWidth];
    for (int c = 0; c < kWidth; ++c) neighbour[c] = c ^ kStride;
    const auto swap_lanes = hn::SetTableIndices(d, neighbour);
    const auto upper = hn::RebindMask(d, hn::And(hn::Iota(di, 0), hn::Set(di, kStride)) == hn::Set(di, kStride));
    for (int r = 0; r < kLanes; ++r) {
      if (r & kStride) continue;
      for (int p = 0; p < kParts; ++p) {
        const V a = v[r].part[p], b = v[r + kStride].part[p];
        v[r].part[p] = hn::IfThenElse(upper, hn::TableLookupLanes(b, swap_lanes), a);
        v[r + kStride].part[p] = hn::IfThenElse(upper, b, hn::TableLookupLanes(a, swap_lanes));
      }
    }
  }
}

CG_INLINE void transpose(Lanes* __restrict v) {
  static_assert(kLanes == 16, "four stages of bit swaps");
  transpose_stage<0>(v);
  transpose_stage<1>(v);
  transpose_stage<2>(v);
  transpose_stage<3>(v);
}

CG_INLINE Lanes load_unaligned(const float* p) {
  Lanes v;
  CG_EACH_PART(q, kParts) v.part[q] = hn::LoadU(D(), p + q * kWidth);
  return v;
}
CG_INLINE void store_unaligned(const Lanes& v, float* p) {
  CG_EACH_PART(q, kParts) hn::StoreU(v.part[q], D(), p + q * kWidth);
}
// Up to 16 values gathered one by one (the ends of rows), zeros after `count`.
template <typename Value>
CG_INLINE Lanes gather(int count, Value value) {
  HWY_ALIGN float f[kLanes] = {};
  for (int k = 0; k < count; ++k) f[k] = value(k);
  return load_unaligned(f);
}

// The group's input [node][scale x channel][lane] from the windows' day-major rows, in two
// passes. First, per lane, the four weighted sums over its L days, a vector of columns at a
// time with the sums in registers, along whole rows: L long sequential streams that the
// hardware prefetcher follows (node blocks made hundreds of short runs, and the loads waited
// on memory). The sums go to a lane-major scratch in L2, which the second pass transposes
// into the lane-innermost input one full vector at a time. Multiplies and adds are rounded
// one by one, in the vector body and the scalar tail alike, so that every target gives the
// same inputs (and the smoothed-window table, made once, serves them all).
constexpr std::int64_t kSmoothScales = TrainingData::kSmoothingScales;

void smooth_into_lanes(const float* const* windows, int count, std::int64_t nodes, std::int64_t channels,
                       std::int32_t lookback, const float* __restrict weights, float* __restrict out,
                       float* __restrict scratch) {
  static_assert(kSmoothScales == 4, "the row loop keeps one sum per scale in a0..a3");
  const std::int64_t row = nodes * channels, in = kSmoothScales * channels;
  for (int k = 0; k < count; ++k) {
    float* __restrict acc = scratch + k * kSmoothScales * row;
    const float* __restrict first = windows[k];
    std::int64_t j = 0;
    for (; j + kLanes <= row; j += kLanes) {
      Lanes a0 = zero(), a1 = zero(), a2 = zero(), a3 = zero();
      for (std::int32_t l = 0; l < lookback; ++l) {
        const Lanes v = load_unaligned(first + l * row + j);
        a0 += weights[l] * v;
        a1 += weights[lookback + l] * v;
        a2 += weights[2 * lookback + l] * v;
        a3 += weights[3 * lookback + l] * v;
      }
      store_unaligned(a0, acc + j);
      store_unaligned(a1, acc + row + j);
      store_unaligned(a2, acc + 2 * row + j);
      store_unaligned(a3, acc + 3 * row + j);
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
        block[k] = k < count ? load_unaligned(scratch + (k * kSmoothScales + sc) * row + m) : zero();
      }
      transpose(block);
      std::int64_t node = m / channels, channel = m % channels;
      for (int c = 0; c < kLanes; ++c) {
        lanes_out[node * in + sc * channels + channel] = block[c];
        if (++channel == channels) channel = 0, ++node;
      }
    }
    for (; m < row; ++m) {
      lanes_out[(m / channels) * in + sc * channels + m % channels] =
          gather(count, [&](int k) { return scratch[(k * kSmoothScales + sc) * row + m]; });
    }
  }
}

void rows_into_lanes(const float* const* rows, int count, std::int64_t width, float* __restrict out) {
  Lanes* lanes_out = reinterpret_cast<Lanes*>(out);
  std::int64_t m = 0;
  for (; m + kLanes <= width; m += kLanes) {
    Lanes block[kLanes];
    for (int k = 0; k < kLanes; ++k) block[k] = k < count ? load_unaligned(rows[k] + m) : zero();
    transpose(block);
    for (int c = 0; c < kLanes; ++c) lanes_out[m + c] = block[c];
  }
  for (; m < width; ++m) lanes_out[m] = gather(count, [&](int k) { return rows[k][m]; });
}

void forward(KernelState& s, const GLDNetParams& p) {
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
                         lanes(s.tile_z), count);
      } else {
        dense_forward(x, in, p.gated[l].weight, p.gated[l].bias, 2 * h, lanes(s.tile_z), count);
      }
      gated_forward(lanes(s.tile_z), h, y, gate, count);
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
    Lanes* y = lanes(s.ldn_y[l]);
    if (l > 0 && sparse) {
      sparse_layer_forward(lanes(s.ldn_y[l - 1]), s.ldn_nonzero[l - 1].data(), u, *s.a, p.ldn_self[l].weight,
                           p.ldn_self[l].bias, p.ldn_local[l].weight, lanes(s.local), y, n);
    } else {
      if (l > 0) ldn_dense(l, lanes(s.ldn_y[l - 1]), u, 0, n);
      diffuse(*s.a, lanes(s.local), u, y, RowUpdate::AddRelu);
    }
    // The last layer's mask is read only by backward(), which makes it; validation never does.
    if (sparse && l + 1 < s.ldn_y.size()) nonzero_lanes(y, n, u, s.ldn_nonzero[l].data());
  }
  dense_forward(lanes(s.final_activation()), s.final_width(), p.output.weight, p.output.bias, 1, lanes(s.prediction),
                n);
  sigmoid_forward(lanes(s.prediction), n);
}

void backward(KernelState& s, const GLDNetParams& p, const float* grad_prediction, GradientSums& g) {
  const auto& shape = s.shape;
  const int n = s.nodes, h = static_cast<int>(shape.gated_units), u = static_cast<int>(shape.ldn_units);
  const int inputs = static_cast<int>(shape.inputs);
  std::memcpy(s.grad_prediction.data(), grad_prediction, sizeof(LaneBlock) * static_cast<std::size_t>(n));
  // Output layer: dz = dp p (1 - p). The gradient of its input goes to grad_out, or, behind a
  // diffusion layer, through that layer's ReLU to grad_z.
  const bool diffusion = shape.ldn_layers > 0;
  sigmoid_backward(lanes(s.prediction), lanes(s.grad_prediction), lanes(s.grad_prediction), n);
  dense_backward(lanes(s.final_activation()), s.final_width(), lanes(s.grad_prediction), 1, p.output.weight,
                 lanes(g.g_out_w), lanes(g.g_out_b), diffusion ? lanes(s.grad_z) : lanes(s.grad_out), false,
                 diffusion ? lanes(s.ldn_y.back()) : nullptr, n);
  // Diffusion layers from the last, with grad_z = dy [y > 0]: d(x K_local) = A^T dz; the dense
  // maps' backward for all but the first, whose dense part runs with the gated stack on tiles.
  if (!s.ldn_nonzero.empty()) nonzero_lanes(lanes(s.ldn_y.back()), n, u, s.ldn_nonzero.back().data());
  for (std::int64_t l = shape.ldn_layers - 1; l >= 0; --l) {
    const auto li = static_cast<std::size_t>(l);
    if (l == 0) {
      diffuse(*s.at, lanes(s.grad_z), u, lanes(s.grad_local), RowUpdate::Assign);
      break;
    }
    const Lanes* x = lanes(s.ldn_y[li - 1]);
    if (!s.ldn_nonzero.empty()) {
      // Makes A^T dz itself, a block of nodes at a time; grad_z is zero wherever ldn_y is.
      sparse_pair_backward(x, s.ldn_nonzero[li - 1].data(), u, lanes(s.grad_z), s.ldn_nonzero[li].data(), *s.at,
                           p.ldn_self[li].weight, lanes(g.g_self_w[li]), lanes(g.g_self_b[li]),
                           p.ldn_local[li].weight, lanes(g.g_local_w[li]), lanes(s.grad_in), n);
    } else {
      diffuse(*s.at, lanes(s.grad_z), u, lanes(s.grad_local), RowUpdate::Assign);
      dense_pair_backward(x, u, lanes(s.grad_z), u, p.ldn_self[li].weight, lanes(g.g_self_w[li]),
                          lanes(g.g_self_b[li]), lanes(s.grad_local), p.ldn_local[li].weight,
                          lanes(g.g_local_w[li]), lanes(s.grad_in), x, n);
    }
    std::swap(s.grad_z, s.grad_in);
  }
  const bool gated = shape.gated_layers > 0, sparse_gated = gated && !s.gated_nonzero.empty();
  const int first_width = s.width_after_gated();
  for (int t0 = 0; t0 < n; t0 += kTileNodes) {
    const int count = std::min(kTileNodes, n - t0);
    // The gradient of the tile's current activation alternates between two tile buffers.
    Lanes* grad_out = lanes(s.tile_grad[0]);
    Lanes* grad_in = lanes(s.tile_grad[1]);
    Lanes* dz = lanes(s.tile_dz);
    if (shape.ldn_layers > 0) {
      const Lanes* x = gated ? rows(s.gated_y.back(), t0, h) : rows(s.input, t0, inputs);
      Lanes* dx = gated ? grad_in : nullptr;
      dense_pair_backward(x, first_width, rows(s.grad_z, t0, u), u, p.ldn_self[0].weight, lanes(g.g_self_w[0]),
                          lanes(g.g_self_b[0]), rows(s.grad_local, t0, u), p.ldn_local[0].weight,
                          lanes(g.g_local_w[0]), dx, nullptr, count);
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
                                                      lanes(g.g_gated_w[li]), lanes(g.g_gated_b[li]), dx, count)) {
        dense_backward(x, in, dz, 2 * h, p.gated[li].weight, lanes(g.g_gated_w[li]), lanes(g.g_gated_b[li]), dx,
                       false, nullptr, count);
      }
      std::swap(grad_out, grad_in);
    }
  }
}

constexpr const char* target_name() {
#if HWY_TARGET == HWY_AVX3
  return "avx512";
#elif HWY_TARGET == HWY_AVX2
  return "avx2";
#elif HWY_TARGET == HWY_SSE4
  return "sse4";
#elif HWY_TARGET == HWY_NEON
  return "neon";
#elif HWY_TARGET == HWY_EMU128 || HWY_TARGET == HWY_SCALAR
  return "baseline";
#else
  return "static";
#endif
}

#undef CG_EACH_BIT
#undef CG_DISPATCH_UNITS
#undef CG_CASE_UNITS
#undef CG_DISPATCH_WIDTHS
#undef CG_CASE_OUT
#undef CG_EACH
#undef CG_EACH_PART
#undef CG_INLINE

}  // namespace

const KernelTarget kTarget = {target_name(), HWY_TARGET, kWidth, &forward, &backward, &rows_into_lanes,
                              &smooth_into_lanes};

}  // namespace HWY_NAMESPACE
}  // namespace crimegraph::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace crimegraph::detail {

std::vector<const KernelTarget*> compiled_kernel_targets() {
  std::vector<const KernelTarget*> all;
  // Best first, as Highway orders them (a lower bit is a better target).
#if HWY_TARGETS & HWY_AVX3
  all.push_back(&N_AVX3::kTarget);
#endif
#if HWY_TARGETS & HWY_AVX2
  all.push_back(&N_AVX2::kTarget);
#endif
#if HWY_TARGETS & HWY_SSE4
  all.push_back(&N_SSE4::kTarget);
#endif
#if HWY_TARGETS & HWY_NEON
  all.push_back(&N_NEON::kTarget);
#endif
#if HWY_TARGETS & HWY_EMU128
  all.push_back(&N_EMU128::kTarget);
#endif
#if HWY_TARGETS & HWY_SCALAR
  all.push_back(&N_SCALAR::kTarget);
#endif
  // Another architecture: its static target, what the compiler's flags allow.
  if (all.empty()) all.push_back(&HWY_STATIC_DISPATCH(kTarget));
  return all;
}

}  // namespace crimegraph::detail
#endif  // HWY_ONCE
