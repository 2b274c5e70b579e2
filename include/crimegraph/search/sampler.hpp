#pragma once
// Draws the configurations a search tries, separately from the schedule that runs them.
// Repeats are redrawn, as Keras Tuner does, until 100 redraws in a row find nothing new: then
// the space is taken as used up and repeats are accepted, so a plan far larger than a small
// space costs one draw a configuration instead of a hundred.
#include <cstdint>
#include <random>
#include <set>

#include "crimegraph/search/space.hpp"

namespace crimegraph {

/// splitmix64's finaliser: seeds that differ in one bit give unrelated streams.
std::uint64_t mix_seed(std::uint64_t x);
/// The seed of a configuration's weights and batch order in a search.
std::uint64_t trial_seed(std::uint64_t search_seed, std::int64_t config_id);

class ConfigurationSampler {
 public:
  ConfigurationSampler(SearchSpace space, std::uint64_t seed);
  Configuration draw();
  /// Draws from the space so far (redraws included): for tests and the cost of a plan.
  std::int64_t draws() const { return draws_; }
  bool exhausted() const { return exhausted_; }

 private:
  SearchSpace space_;
  std::mt19937_64 rng_;
  std::set<Configuration> seen_;
  bool exhausted_ = false;
  std::int64_t draws_ = 0;
};

}  // namespace crimegraph
