#pragma once
// What the GLDNet kernel's target-independent part (gldnet_kernel.cpp) and its vector code,
// compiled once per SIMD target (gldnet_kernel_simd.cpp), share: the activations and gradient
// sums, stored the same way on every target, and the table of one target's entry points.
#include <cstdint>
#include <vector>

#include "crimegraph/model/gldnet_kernel.hpp"

namespace crimegraph::detail {

constexpr int kLanes = GLDNetKernel::kLanes;

/// One value per window of a group. Every target reads and writes this layout (a target's
/// register type is a view of it: one 16-float vector on AVX-512, two on AVX2, four on SSE4),
/// so buffers, gradient sums and the caller's arrays are the same whatever runs them.
struct alignas(64) LaneBlock {
  float lane[kLanes];
};
using LaneBuffer = std::vector<LaneBlock>;  // C++17's allocator honours the 64-byte alignment

/// Gradient accumulators, one lane vector per parameter element.
struct GradientSums {
  std::vector<LaneBuffer> g_gated_w, g_gated_b, g_self_w, g_self_b, g_local_w;
  LaneBuffer g_out_w, g_out_b;
};

/// The per-node stages (the gated stack and the first diffusion layer's two dense maps) run on
/// tiles of nodes, so that one layer's output is still in L1/L2 when the next reads it; the
/// group's full activations (megabytes) would otherwise make every layer a pass through L3.
constexpr int kTileNodes = 32;

/// True when the sparse maps (which skip all-zero lane vectors) take a layer of this many
/// units: 8 and 16, the layers whose multiply-adds dominate a search's time.
constexpr bool sparse_units(std::int64_t units) { return units == 8 || units == 16; }

struct KernelTarget;

struct KernelState {
  const KernelTarget* target = nullptr;
  GLDNetShape shape;
  const SparseAdjacency* a = nullptr;
  const SparseAdjacency* at = nullptr;
  int nodes = 0;
  // Activations, [node][width] lane vectors.
  LaneBuffer input;
  std::vector<LaneBuffer> gated_y, gated_s;  // [H]: the outputs and the gates, per gated layer
  // Which of gated_y's vectors are not all zero, per layer, when its width takes the sparse maps:
  // made by forward() for the next layer's map and kept for backward()'s.
  std::vector<std::vector<std::uint32_t>> gated_nonzero;
  LaneBuffer tile_z;              // [2H]: a gated layer's pre-activations on one tile
  std::vector<LaneBuffer> ldn_y;  // [units] per diffusion layer
  // Which of ldn_y's vectors are not all zero, per layer, for the sparse maps; also a superset
  // of the layer's grad_z's, which is zero wherever ldn_y is.
  std::vector<std::vector<std::uint32_t>> ldn_nonzero;
  LaneBuffer local, prediction;  // x K_local scratch; the output
  // Backward scratch.
  LaneBuffer grad_out;  // the final activation's gradient, when no diffusion layer takes it as grad_z
  LaneBuffer grad_in, grad_z, grad_local, grad_prediction;
  LaneBuffer tile_grad[2], tile_dz;   // the gated stack's gradients on one tile of nodes
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

/// One SIMD target's compiled entry points.
struct KernelTarget {
  const char* name;       ///< as CRIMEGRAPH_SIMD names it: "avx512", "avx2", "sse4", "neon", "baseline"
  std::int64_t hwy_bits;  ///< Highway's HWY_* bit of the target
  int vector_floats;      ///< floats in one vector register
  void (*forward)(KernelState& s, const GLDNetParams& p);
  void (*backward)(KernelState& s, const GLDNetParams& p, const float* grad_prediction, GradientSums& g);
  /// out[m][k] = rows[k][m] for m < width, k < count (0 for k >= count).
  void (*rows_into_lanes)(const float* const* rows, int count, std::int64_t width, float* out);
  /// The group's input [node][scale x channel][lane] from the windows' day-major rows.
  void (*smooth_into_lanes)(const float* const* windows, int count, std::int64_t nodes, std::int64_t channels,
                            std::int32_t lookback, const float* weights, float* out, float* scratch);
};

/// Every target compiled into this build, best first, whether or not this CPU can run it.
std::vector<const KernelTarget*> compiled_kernel_targets();

/// The target of that name that this CPU runs; "" for the default. Throws ConfigError.
const KernelTarget& kernel_target(const std::string& name);

}  // namespace crimegraph::detail
