#pragma once
// A synthetic city with a known truth: a perturbed street grid and a self-exciting
// (Hawkes-type, discrete-day) event process on it, whose true violent intensity is kept so
// that an oracle ranking gives the best achievable hit rate.
#include <array>
#include <cstdint>
#include <string>

#include "crimegraph/data/dataset.hpp"

namespace crimegraph {

struct StreetGridOptions {
  std::int32_t nodes = 1177;   ///< street segments wanted (the central-Baltimore graph has 1177)
  double block_m = 200.0;      ///< mean block side
  double jitter_m = 25.0;      ///< standard deviation of the intersections' displacement
  double alpha_m = 750.0;      ///< Gaussian kernel width for edge weights
  std::uint64_t seed = 1;
};

/// A k x k grid of jittered intersections whose segments (minus a random few, to reach
/// exactly `nodes`) become nodes; segments that share an intersection are joined. Edge
/// distance follows the original study: the mean of the two along-segment distances from
/// each segment's start to the meeting point.
StreetGraph synthetic_street_grid(const StreetGridOptions& options);

struct EventProcessOptions {
  std::int32_t days = 3232;
  std::uint64_t seed = 1;
  std::int32_t start_day = 16071;  ///< 2014-01-01
  double smoothing = 0.5;          ///< EMA factor of the feature channels

  // Background: mean events per node-day per category (Arrest, Property, Violent), made
  // heterogeneous by a spatially smooth log-normal field with this log-standard deviation.
  std::array<double, 3> base_rate = {0.010, 0.020, 0.003};
  double hotspot_sigma = 1.0;
  double shared_hotspot_share = 0.75;  ///< correlation of the categories' fields
  double annual_amplitude = 0.15;      ///< summer peak of the violent rate

  // Triggering: each event raises the rates of its own and neighbouring segments, decaying
  // by `decay` per day; excitation[from][to] scales the effect between categories.
  double decay = 0.75;
  double neighbour_share = 0.5;
  std::array<std::array<double, 3>, 3> excitation = {{{0.040, 0.005, 0.020},
                                                       {0.005, 0.050, 0.020},
                                                       {0.030, 0.005, 0.030}}};

  // Hidden risk (violence only; 0: none): a spatially smooth log-multiplier per segment that
  // drifts from day to day (AR(1) with this persistence). The oracle knows it; a model can only
  // infer it from the violent events it causes, as with real shifts of risk no data records.
  double latent_sigma = 0.0;
  double latent_persistence = 0.98;
};

/// The event process of a named preset: "default" (the options above: an easy city, naive 0.48
/// and oracle 0.66 on the central-Baltimore graph over 3232 days) or "baltimore-like"
/// (calibrated to the original study's figures on that graph over 3232 days: about 277,000
/// events, naive near 0.34 at 20% coverage, the oracle near 0.60, so that a model has room
/// between them; see docs/synthetic-city.md). Throws ConfigError for another name.
EventProcessOptions event_process_preset(const std::string& name);

/// Simulates the events on `graph` and returns a complete dataset (counts, smoothed features,
/// label, true intensity, provenance).
CrimeDataset simulate_city(StreetGraph graph, const EventProcessOptions& options);

/// Largest eigenvalue bound (max row sum) of the expected offspring matrix: below 1 the
/// process is stationary.
double branching_ratio(const EventProcessOptions& options);

}  // namespace crimegraph
