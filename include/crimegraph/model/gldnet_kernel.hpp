#pragma once
// GLDNet's forward and backward pass written out by hand for CPU training, without LibTorch.
//
// LibTorch spends most of a GLDNet step on dispatch, allocation and memory traffic: the layers
// are a few units wide, so every op is a thin pass over [nodes x batch] rows. This kernel runs
// a group of kLanes windows at once in a lane-innermost layout, [node][feature][lane], so every
// operation (a broadcast weight times a vector of windows, a sparse-row times a contiguous
// feature block) is a full SIMD vector whatever the layer widths, and a group's activations
// stay in cache between forward and backward.
//
// The vector code is written once with Google Highway and compiled for every target of the
// architecture (AVX-512, AVX2+FMA, SSE4 and a portable baseline on x86-64; NEON on 64-bit ARM,
// where every CPU has it), each target keeping a group's 16 windows in as many registers as
// its width needs (one on AVX-512, two on AVX2, four on SSE4 and NEON). Highway rather than GCC's target_clones of generic 16-float
// vectors: GCC lowers a vector wider than the target's registers through the stack, which made
// every target but AVX-512 several times slower, and only the host's clone was ever run.
// Highway gives each target its own register width from one source, and any target the CPU
// supports can be chosen at run time, so the tests run every one of them. The best target the
// CPU runs is used unless CRIMEGRAPH_SIMD names another (simd_targets() lists them). SVE and
// RVV are left out: their vectors have no size at compile time and cannot be held in arrays.
//
// The targets with fused multiply-adds (AVX-512, AVX2, NEON) give bit for bit the same
// results, as every lane is a window computed by the same sequence of operations; SSE4 and the
// baseline round each multiply-add twice and differ in the last bits.
//
// The kernel owns activations (GLDNetGradients the gradient sums) but not the parameters: it reads and
// writes them through pointers in LibTorch's layout (see GLDNetParams), so the same kernel runs
// on the trainer's GLDNetParameters and on the LibTorch module the tests compare it with.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crimegraph/data/street_graph.hpp"

namespace crimegraph {

class TrainingData;

namespace detail {
struct KernelState;
struct GradientSums;
}  // namespace detail

/// The SIMD targets the kernel is compiled for that this CPU can run, best first: some of
/// "avx512", "avx2", "sse4", "baseline" on x86-64; "neon" on ARM.
std::vector<std::string> simd_targets();

/// The target kernels use unless told otherwise: the one the environment variable
/// CRIMEGRAPH_SIMD names, else the best of simd_targets(). ConfigError when CRIMEGRAPH_SIMD
/// names no target or one this CPU cannot run.
std::string default_simd_target();

/// "avx2 (8 floats a vector)": for the logs.
std::string describe_simd_target(const std::string& target);

struct GLDNetShape {
  std::int64_t inputs = 12;  ///< temporal summaries per node (smoothing scales x channels)
  std::int64_t gated_layers = 2;
  std::int64_t gated_units = 8;
  std::int64_t ldn_layers = 5;
  std::int64_t ldn_units = 4;
  double prior_rate = 0.01;  ///< the output bias starts at logit(prior): first predictions match the event rate
};

/// Weights and biases of `shape`, in every tensor together.
std::int64_t gldnet_parameter_count(const GLDNetShape& shape);

/// One linear map in LibTorch's layout: weight [out][in] row-major, bias [out] (null: none).
/// The gradient pointers receive d loss / d parameter from GLDNetKernel::write_gradients.
struct LinearParams {
  const float* weight = nullptr;
  const float* bias = nullptr;
  float* grad_weight = nullptr;
  float* grad_bias = nullptr;
};

struct GLDNetParams {
  std::vector<LinearParams> gated;      ///< fused [W; U]: [2 units][in], bias [2 units]
  std::vector<LinearParams> ldn_self;   ///< K_self [units][in] and the layer's bias
  std::vector<LinearParams> ldn_local;  ///< K_local [units][in], no bias
  LinearParams output;                  ///< [1][in], bias [1]
};

/// Parameter gradients summed over the windows of a batch (one lane vector per parameter
/// element until written out). Separate from the kernel's activations, so that one kernel per
/// thread serves every group of a batch while each group keeps its own sums: summing them in
/// group order gives the same gradients whatever the number of threads.
class GLDNetGradients {
 public:
  explicit GLDNetGradients(const GLDNetShape& shape);
  /// What one set of sums of `shape` holds: a lane vector per parameter element.
  static std::size_t memory_bytes(const GLDNetShape& shape);
  std::size_t allocated_bytes() const;
  ~GLDNetGradients();
  GLDNetGradients(GLDNetGradients&&) noexcept;
  GLDNetGradients& operator=(GLDNetGradients&&) noexcept;
  /// Writes the sums (over lanes) to params' grad pointers, or adds them when `add`; then
  /// clears them.
  void write(const GLDNetParams& params, bool add);

 private:
  friend class GLDNetKernel;
  std::unique_ptr<detail::GradientSums> s_;
};

class GLDNetKernel {
 public:
  static constexpr int kLanes = 16;  ///< windows per group

  /// `forward` is the (row-normalised) adjacency A, `transposed` its transpose; both must
  /// outlive the kernel. `simd_target` is one of simd_targets(), "" for default_simd_target().
  GLDNetKernel(const GLDNetShape& shape, const SparseAdjacency& forward, const SparseAdjacency& transposed,
               const std::string& simd_target = "");
  ~GLDNetKernel();
  GLDNetKernel(GLDNetKernel&&) noexcept;
  GLDNetKernel& operator=(GLDNetKernel&&) noexcept;

  /// What a kernel of `shape` on `nodes` segments holds (activations and backward scratch),
  /// without making one.
  static std::size_t memory_bytes(const GLDNetShape& shape, std::int64_t nodes);
  std::size_t allocated_bytes() const;

  const GLDNetShape& shape() const;
  std::int32_t nodes() const;
  /// The SIMD target this kernel runs.
  std::string simd_target() const;

  /// The group's input, [node][shape.inputs][kLanes]; filled by the caller or load_windows.
  float* input();
  /// Fills input() with the smoothed windows of up to kLanes target days (unused lanes get
  /// zeros). `weights` is TrainingData::smoothing_weights(lookback). Reads the data's cache of
  /// smoothed windows when it has one for these weights, the raw days otherwise.
  void load_windows(const TrainingData& data, const std::int32_t* target_days, int count, std::int32_t lookback,
                    const std::vector<float>& weights);

  /// Runs the model on input(); returns the probabilities [node][kLanes]. Keeps what the
  /// backward pass needs.
  const float* forward(const GLDNetParams& params);
  /// Back-propagates d loss / d prediction ([node][kLanes], zero in unused lanes) through the
  /// last forward pass and adds the parameter gradients to `into`.
  void backward(const GLDNetParams& params, const float* grad_prediction, GLDNetGradients& into);

 private:
  std::unique_ptr<detail::KernelState> s_;
};

/// The original loss on one group, as a sum: sum over nodes and the first `count` lanes of
/// w (p - y)^2, w = y where y > 0 and rho elsewhere. When `grad` is not null it receives
/// scale * d sum / d p ([node][kLanes], zero in unused lanes).
double weighted_squared_error_sum(const float* prediction, const float* label, std::int32_t nodes, int count,
                                  double rho, float scale, float* grad);

/// Gathers the labels of up to kLanes target days as [node][kLanes] (unused lanes zero).
void load_labels(const TrainingData& data, const std::int32_t* target_days, int count, float* out);

/// Rows [first_day, last_day) of the table of every window's smoothed summaries, [target
/// day][node][scale x channel], into `table` (the whole table: days x nodes x smoothed width
/// floats); days before the first whole window are zero. Computed by the same code as
/// load_windows, so that a group loaded from the table is bit for bit the group load_windows
/// smooths itself, on every target (the smoothing rounds every multiply and add on its own),
/// and each row alone, so that any split of the days gives the same table.
void smooth_window_rows(const TrainingData& data, std::int32_t lookback, std::int32_t first_day, std::int32_t last_day,
                        float* table);

}  // namespace crimegraph
