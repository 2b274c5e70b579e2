#pragma once
// Hyperband's bracket and round arithmetic, as pure integer math.
#include <cstdint>
#include <string>
#include <vector>

namespace crimegraph {

enum class HyperbandVariant {
  Keras,  ///< Keras Tuner's HyperbandOracle (the original study's search)
  Paper,  ///< Algorithm 1 of Li et al., JMLR 2018
};
const char* variant_name(HyperbandVariant variant);
HyperbandVariant parse_variant(const std::string& text);

struct RoundPlan {
  std::int32_t trials = 0;  ///< configurations trained in this round
  std::int32_t epochs = 0;  ///< total epochs each reaches by the end of the round
};

struct BracketPlan {
  std::int32_t iteration = 0;  ///< hyperband iteration, 0-based
  std::int32_t bracket = 0;    ///< s: the number of halvings; the most aggressive bracket has the largest s
  std::vector<RoundPlan> rounds;
};

struct HyperbandOptions {
  HyperbandVariant variant = HyperbandVariant::Keras;
  std::int32_t max_epochs = 25;  ///< R
  std::int32_t factor = 2;       ///< eta
  std::int32_t iterations = 1;   ///< full sets of brackets
  std::int32_t min_epochs = 1;   ///< Keras only
  /// A plan of more trials than this is refused: it would take more memory and time than any
  /// search has (a mistyped --max-epochs or --iterations); raise it to run one anyway.
  std::int64_t max_planned_trials = 1'000'000;
  void validate() const;
};

/// Every bracket of every iteration, in run order (per iteration the most aggressive first).
std::vector<BracketPlan> hyperband_plan(const HyperbandOptions& options);

/// floor(log_eta(R)) in integers: the largest s with eta^s <= R.
std::int32_t integer_log(std::int64_t r, std::int64_t eta);

struct PlanTotals {
  std::int64_t trials = 0;
  std::int64_t configurations = 0;  ///< distinct configurations (first-round trials)
  std::int64_t epochs = 0;          ///< epochs trained when promotions continue from checkpoints
};
PlanTotals plan_totals(const std::vector<BracketPlan>& plan);

/// The plan as a table for people: per bracket and round, trials, epochs and epochs trained.
std::string describe_plan(const std::vector<BracketPlan>& plan, const HyperbandOptions& options);

}  // namespace crimegraph
