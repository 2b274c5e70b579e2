#include "crimegraph/search/sampler.hpp"

namespace crimegraph {

std::uint64_t mix_seed(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t trial_seed(std::uint64_t search_seed, std::int64_t config_id) {
  return mix_seed(search_seed ^ mix_seed(static_cast<std::uint64_t>(config_id)));
}

ConfigurationSampler::ConfigurationSampler(SearchSpace space, std::uint64_t seed)
    : space_(std::move(space)), rng_(mix_seed(seed)) {
  space_.validate();
}

Configuration ConfigurationSampler::draw() {
  Configuration c = space_.sample(rng_);
  ++draws_;
  for (int attempt = 0; !exhausted_ && attempt < 100 && seen_.count(c); ++attempt) {
    c = space_.sample(rng_);
    ++draws_;
  }
  exhausted_ = exhausted_ || !seen_.insert(c).second;
  return c;
}

}  // namespace crimegraph
