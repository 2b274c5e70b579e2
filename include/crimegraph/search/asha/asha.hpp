#pragma once
// ASHA, asynchronous successive halving (Li et al., "A System for Massively Parallel
// Hyperparameter Tuning", MLSys 2020), behind the Scheduler interface.
//
// Rungs sit at r, r*eta, r*eta^2, ... epochs, and at --max-epochs. When a worker asks for work,
// the best not-yet-promoted trial in the top 1/eta of the highest rung that has one is promoted
// to the next rung (continuing from its checkpoint); otherwise a new configuration starts at
// the lowest rung. No worker ever waits for a rung to fill, which is what Hyperband's
// synchronous rounds cost at scale; the price is that decisions depend on the order results
// arrive in, so a resumed search replays the recorded calls.
//
// Bracketed ASHA (brackets > 1): bracket s starts its configurations at r*eta^s epochs, as
// Hyperband's brackets do; new configurations go to the brackets in turn, and promotions are
// looked for bracket by bracket, each from its highest rung down.
//
// Trial ids count the trials in the order they were handed out; config ids count the
// configurations. Each decision costs O(brackets x rungs x log trials): no step scans trials.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include "crimegraph/search/sampler.hpp"
#include "crimegraph/search/scheduler.hpp"

namespace crimegraph {

struct AshaOptions {
  std::int32_t min_epochs = 1;   ///< r: epochs of the lowest rung
  std::int32_t max_epochs = 25;  ///< R: epochs of the highest rung
  std::int32_t factor = 2;       ///< eta
  std::int32_t brackets = 1;
  /// Budgets (0: none). At least one of these, or the search loop's time limit, must be set.
  std::int64_t max_trials = 0;        ///< configurations started
  std::int64_t max_total_epochs = 0;  ///< epochs trained by all trials together
  /// Throws ConfigError for inconsistent options; `time_limited`: the loop has a time budget.
  void validate(bool time_limited) const;
  /// The rungs' epochs of bracket s, lowest first.
  std::vector<std::int32_t> rungs(std::int32_t bracket) const;
};

class AshaScheduler : public Scheduler {
 public:
  AshaScheduler(const AshaOptions& options, SearchSpace space, std::uint64_t seed,
                Ranking ranking = Ranking::BestEpoch);

  std::optional<TrialSpec> next() override;
  void report(const TrialReport& report) override;
  bool finished() const override { return counts_.running() == 0 && !has_work(); }
  std::int32_t max_epochs() const override { return options_.max_epochs; }
  std::string describe() const override;

  std::int64_t configurations() const { return configs_started_; }

 private:
  // Rank order within a rung: higher score first, then the earlier trial.
  using Key = std::pair<double, std::int64_t>;  // (-score, trial id)
  using RankTree = __gnu_pbds::tree<Key, __gnu_pbds::null_type, std::less<Key>, __gnu_pbds::rb_tree_tag,
                                    __gnu_pbds::tree_order_statistics_node_update>;
  struct Rung {
    std::int32_t epochs = 0;
    std::int64_t reported = 0;  // trials reported at this rung, failed ones too
    RankTree ranked;            // the scored ones
    std::set<Key> unpromoted;   // the scored ones not yet promoted
  };
  struct Trial {
    std::int64_t config_id = 0, parent_id = -1;
    std::int32_t bracket = 0, rung = 0;
    bool done = false;
  };

  /// The trial to promote from rung k of bracket b (its key), if there is one that fits the budget.
  std::optional<Key> promotable(std::size_t b, std::size_t k) const;
  bool can_start_new() const;
  bool has_work() const;
  std::int32_t epochs_of(const Trial& t) const;
  TrialSpec start(Trial trial);

  AshaOptions options_;
  Ranking ranking_;
  std::uint64_t seed_;
  ConfigurationSampler sampler_;
  std::vector<std::string> names_;          // the space's parameters, in order
  std::vector<double> config_values_;       // configurations, names_.size() values each
  std::vector<std::vector<Rung>> brackets_;  // [bracket][rung]
  std::vector<Trial> trials_;                // by trial id
  std::unordered_map<std::int64_t, std::string> checkpoints_;  // of trials a promotion may continue
  std::int64_t configs_started_ = 0;
  std::int64_t epochs_committed_ = 0;  // trained or being trained
};

}  // namespace crimegraph
